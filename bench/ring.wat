;; Producer/consumer for bench/threads.mjs: blocks allocated on one worker and freed on another,
;; handed over through a ring in the shared memory (single producer, single consumer).
;;
;; Built so that the channel costs next to nothing against the allocator (issue 16: the first
;; ring cost more than the allocator it measured):
;; - every counter and flag on a 64-byte line of its own (the ring is 64-aligned), written by one
;;   side only: `head` (the consumer's count) at +0, `tail` (the producer's count) at +64, the
;;   consumer's sleep flag at +128, the producer's at +192; the slots from +256;
;; - a slot is the block's address alone (4 bytes: 16 slots a line, one line moved per 16
;;   blocks), and both counters are published `batch` blocks at a time (one line moved per batch);
;; - a side that finds the ring full (empty) spins on the other's counter (a plain load of a
;;   line written once a batch), then sleeps in `memory.atomic.wait32` on its own flag until the
;;   other side, which checks the flag each time it publishes, wakes it (`memory.atomic.notify`):
;;   no fixed sleep (the first ring slept 20 µs at a time, and on 2 cores both sides of a pair
;;   ended up asleep), and on an oversubscribed machine a side whose partner is descheduled
;;   gives its core away instead of burning its time slice.
;; The producer writes the first byte of every block (a byte of its address) and the consumer
;; checks it before it frees the block: the block's line goes from one core to the other, as with
;; any real hand-off; a failure counts in `errors`, a nil in `nils`.
(module
  (import "alloc" "memory" (memory 0 65536 shared))
  (import "alloc" "allocate" (func $allocate (param i32) (result i32)))
  (import "alloc" "deallocate" (func $deallocate (param i32)))

  (global $rng (mut i64) (i64.const 0))
  (global $ops (export "ops") (mut i64) (i64.const 0))
  (global $errors (export "errors") (mut i32) (i32.const 0))
  (global $nils (export "nils") (mut i32) (i32.const 0))

  (func $rand (result i32)
    (global.set $rng
      (i64.add (i64.mul (global.get $rng) (i64.const 6364136223846793005))
               (i64.const 1442695040888963407)))
    (i32.wrap_i64 (i64.shr_u (global.get $rng) (i64.const 32))))

  ;; Uniform in [lo, hi].
  (func $range (param $lo i32) (param $hi i32) (result i32)
    (i32.add (local.get $lo)
      (i32.wrap_i64
        (i64.shr_u
          (i64.mul (i64.extend_i32_u (call $rand))
                   (i64.extend_i32_u (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.const 1))))
          (i64.const 32)))))

  ;; The check byte of the block at `p`.
  (func $mark (param $p i32) (result i32)
    (i32.xor (i32.shr_u (local.get $p) (i32.const 3)) (i32.const 0x5a)))

  ;; Stores `value` to this side's counter at `addr`, then wakes the other side if it sleeps on
  ;; its flag at `flag`. (Sequentially consistent: either the sleeper, which sets its flag and
  ;; then reads this counter, sees the new value, or this side sees the flag.)
  (func $publish (param $addr i32) (param $value i32) (param $flag i32)
    (i32.atomic.store (local.get $addr) (local.get $value))
    (if (i32.atomic.load (local.get $flag))
      (then
        (i32.atomic.store (local.get $flag) (i32.const 0))
        (drop (memory.atomic.notify (local.get $flag) (i32.const 1))))))

  ;; Waits until the word at `addr` is no longer `old` (spins, then sleeps on this side's `flag`
  ;; until woken; a timeout of 1 ms in case), and returns it.
  (func $await (param $addr i32) (param $old i32) (param $flag i32) (result i32)
    (local $spins i32) (local $v i32)
    (loop $again
      (local.set $v (i32.atomic.load (local.get $addr)))
      (if (i32.ne (local.get $v) (local.get $old)) (then (return (local.get $v))))
      (local.set $spins (i32.add (local.get $spins) (i32.const 1)))
      (if (i32.gt_u (local.get $spins) (i32.const 40000))
        (then
          (i32.atomic.store (local.get $flag) (i32.const 1))
          (local.set $v (i32.atomic.load (local.get $addr)))
          (if (i32.ne (local.get $v) (local.get $old))
            (then
              (i32.atomic.store (local.get $flag) (i32.const 0))
              (return (local.get $v))))
          (drop (memory.atomic.wait32 (local.get $flag) (i32.const 1) (i64.const 1000000)))
          (i32.atomic.store (local.get $flag) (i32.const 0))
          (local.set $spins (i32.const 0))))
      (br $again))
    (unreachable))

  ;; A block of size [lo, hi] into the slot, its first byte written (nil: counted, 0 stored).
  (func $new (param $lo i32) (param $hi i32) (param $slot i32)
    (local $p i32)
    (local.set $p (call $allocate (call $range (local.get $lo) (local.get $hi))))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1)))
    (if (i32.eqz (local.get $p))
      (then (global.set $nils (i32.add (global.get $nils) (i32.const 1))))
      (else (i32.store8 (local.get $p) (call $mark (local.get $p)))))
    (i32.store (local.get $slot) (local.get $p)))

  ;; Checks and frees the block of a slot.
  (func $del (param $slot i32)
    (local $p i32)
    (local.set $p (i32.load (local.get $slot)))
    (if (i32.eqz (local.get $p)) (then (return)))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.and (call $mark (local.get $p)) (i32.const 0xff)))
      (then (global.set $errors (i32.add (global.get $errors) (i32.const 1)))))
    (call $deallocate (local.get $p))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1))))

  ;; Slot `i` of a ring of `cap` slots (a power of two).
  (func $slot (param $ring i32) (param $cap i32) (param $i i32) (result i32)
    (i32.add (i32.add (local.get $ring) (i32.const 256))
      (i32.shl (i32.and (local.get $i) (i32.sub (local.get $cap) (i32.const 1))) (i32.const 2))))

  (func (export "seed") (param $seed i64) (global.set $rng (local.get $seed)))

  ;; The memory's size in pages, from the memory itself (`memory.grow 0`): what every thread sees.
  (func (export "pages") (result i32) (memory.grow (i32.const 0)))

  ;; The producer: `n` blocks of [lo, hi] bytes into the ring, published `batch` at a time.
  (func (export "produce") (param $ring i32) (param $cap i32) (param $batch i32) (param $n i32) (param $lo i32) (param $hi i32)
    (local $tail i32) (local $head i32) (local $k i32)
    (local.set $tail (i32.atomic.load offset=64 (local.get $ring)))
    (local.set $head (i32.atomic.load (local.get $ring)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        ;; full: publish what is made, then wait for the consumer to move head
        (if (i32.ge_u (i32.sub (local.get $tail) (local.get $head)) (local.get $cap))
          (then
            (call $publish (i32.add (local.get $ring) (i32.const 64)) (local.get $tail) (i32.add (local.get $ring) (i32.const 128)))
            (local.set $k (i32.const 0))
            (local.set $head (call $await (local.get $ring) (local.get $head) (i32.add (local.get $ring) (i32.const 192))))))
        (call $new (local.get $lo) (local.get $hi)
          (call $slot (local.get $ring) (local.get $cap) (local.get $tail)))
        (local.set $tail (i32.add (local.get $tail) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (if (i32.ge_u (local.get $k) (local.get $batch))
          (then
            (call $publish (i32.add (local.get $ring) (i32.const 64)) (local.get $tail) (i32.add (local.get $ring) (i32.const 128)))
            (local.set $k (i32.const 0))
            ;; the consumer's count, read once a batch (not once a block)
            (local.set $head (i32.atomic.load (local.get $ring)))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (call $publish (i32.add (local.get $ring) (i32.const 64)) (local.get $tail) (i32.add (local.get $ring) (i32.const 128))))

  ;; The consumer: `n` blocks out of the ring, freed; it takes everything published and
  ;; publishes its progress `batch` blocks at a time.
  (func (export "consume") (param $ring i32) (param $cap i32) (param $batch i32) (param $n i32)
    (local $head i32) (local $tail i32) (local $k i32)
    (local.set $head (i32.atomic.load (local.get $ring)))
    (local.set $tail (local.get $head))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eq (local.get $head) (local.get $tail))
          (then
            (call $publish (local.get $ring) (local.get $head) (i32.add (local.get $ring) (i32.const 192)))
            (local.set $k (i32.const 0))
            (local.set $tail (call $await (i32.add (local.get $ring) (i32.const 64)) (local.get $head) (i32.add (local.get $ring) (i32.const 128))))))
        (call $del (call $slot (local.get $ring) (local.get $cap) (local.get $head)))
        (local.set $head (i32.add (local.get $head) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (if (i32.ge_u (local.get $k) (local.get $batch))
          (then
            (call $publish (local.get $ring) (local.get $head) (i32.add (local.get $ring) (i32.const 192)))
            (local.set $k (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (call $publish (local.get $ring) (local.get $head) (i32.add (local.get $ring) (i32.const 192))))

  ;; One worker doing both: `n` blocks through the ring, `cap` at a time (bench/threads.mjs: a
  ;; batch of the pair; fill, then empty it), so that the blocks go through the allocator in the
  ;; same batches as between a producer and its consumer.
  (func (export "both") (param $ring i32) (param $cap i32) (param $n i32) (param $lo i32) (param $hi i32)
    (local $i i32) (local $m i32)
    (block $done
      (loop $batch
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $m (select (local.get $cap) (local.get $n) (i32.gt_u (local.get $n) (local.get $cap))))
        (local.set $i (i32.const 0))
        (block $filled
          (loop $fill
            (br_if $filled (i32.ge_u (local.get $i) (local.get $m)))
            (call $new (local.get $lo) (local.get $hi) (call $slot (local.get $ring) (local.get $cap) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $fill)))
        (local.set $i (i32.const 0))
        (block $emptied
          (loop $empty
            (br_if $emptied (i32.ge_u (local.get $i) (local.get $m)))
            (call $del (call $slot (local.get $ring) (local.get $cap) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $empty)))
        (local.set $n (i32.sub (local.get $n) (local.get $m)))
        (br $batch))))
)
