;; Producer/consumer for bench/threads.mjs: blocks allocated on one worker and freed on another,
;; handed over through a ring in the shared memory (single producer, single consumer).
;;
;; Both sides publish their counters a batch at a time (`batch` blocks), so the channel costs a
;; cache-line transfer per batch, not per block. A ring is a block the main thread allocates
;; from the allocator before the run:
;; `head` (the consumer's count) at +0, `tail` (the producer's count) at +64 (another cache
;; line), then `cap` slots of 8 bytes from +128: the block's address and its size.
;; Every block's first byte is written with the low byte of its size by the producer and checked
;; by the consumer before it frees it; a failure counts in `errors`, a nil in `nils`.
;; A side that finds the ring full (empty) spins; after 256 spins it sleeps 20 µs in
;; `memory.atomic.wait32` (nobody notifies: cheap for the side that does the work, and a worker
;; descheduled on an oversubscribed machine does not make its partner burn its time slice).
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

  ;; Waits until the word at `addr` is no longer `old` (spin, then short sleeps).
  (func $await (param $addr i32) (param $old i32)
    (local $spins i32)
    (block $done
      (loop $again
        (br_if $done (i32.ne (i32.atomic.load (local.get $addr)) (local.get $old)))
        (local.set $spins (i32.add (local.get $spins) (i32.const 1)))
        (if (i32.gt_u (local.get $spins) (i32.const 256))
          (then (drop (memory.atomic.wait32 (local.get $addr) (local.get $old) (i64.const 20000)))))
        (br $again))))

  ;; A block of size [lo, hi], its first byte written; 0 on nil.
  (func $new (param $lo i32) (param $hi i32) (param $slot i32)
    (local $size i32) (local $p i32)
    (local.set $size (call $range (local.get $lo) (local.get $hi)))
    (local.set $p (call $allocate (local.get $size)))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1)))
    (if (i32.eqz (local.get $p))
      (then (global.set $nils (i32.add (global.get $nils) (i32.const 1))))
      (else (i32.store8 (local.get $p) (local.get $size))))
    (i32.store (local.get $slot) (local.get $p))
    (i32.store offset=4 (local.get $slot) (local.get $size)))

  ;; Checks and frees the block of a slot.
  (func $del (param $slot i32)
    (local $p i32)
    (local.set $p (i32.load (local.get $slot)))
    (if (i32.eqz (local.get $p)) (then (return)))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.load8_u offset=4 (local.get $slot)))
      (then (global.set $errors (i32.add (global.get $errors) (i32.const 1)))))
    (call $deallocate (local.get $p))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1))))

  (func $slot (param $ring i32) (param $cap i32) (param $i i32) (result i32)
    (i32.add (i32.add (local.get $ring) (i32.const 128))
      (i32.shl (i32.rem_u (local.get $i) (local.get $cap)) (i32.const 3))))

  (func (export "seed") (param $seed i64) (global.set $rng (local.get $seed)))

  ;; The memory's size in pages, from the memory itself (`memory.grow 0`): what every thread sees.
  (func (export "pages") (result i32) (memory.grow (i32.const 0)))

;; The producer: `n` blocks of [lo, hi] bytes into the ring, published `batch` at a time (one
  ;; store to the shared counter per batch: the consumer's cache line is pulled once a batch).
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
            (i32.atomic.store offset=64 (local.get $ring) (local.get $tail))
            (local.set $k (i32.const 0))
            (block $room
              (loop $full
                (local.set $head (i32.atomic.load (local.get $ring)))
                (br_if $room (i32.lt_u (i32.sub (local.get $tail) (local.get $head)) (local.get $cap)))
                (call $await (local.get $ring) (local.get $head))
                (br $full)))))
        (call $new (local.get $lo) (local.get $hi)
          (call $slot (local.get $ring) (local.get $cap) (local.get $tail)))
        (local.set $tail (i32.add (local.get $tail) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (if (i32.ge_u (local.get $k) (local.get $batch))
          (then
            (i32.atomic.store offset=64 (local.get $ring) (local.get $tail))
            (local.set $k (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.atomic.store offset=64 (local.get $ring) (local.get $tail)))

  ;; The consumer: `n` blocks out of the ring, freed; it takes everything published at once and
  ;; publishes its progress `batch` blocks at a time.
  (func (export "consume") (param $ring i32) (param $cap i32) (param $batch i32) (param $n i32)
    (local $head i32) (local $tail i32) (local $k i32)
    (local.set $head (i32.atomic.load (local.get $ring)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (if (i32.eq (local.get $head) (local.get $tail))
          (then
            (i32.atomic.store (local.get $ring) (local.get $head))
            (local.set $k (i32.const 0))
            (block $some
              (loop $empty
                (local.set $tail (i32.atomic.load offset=64 (local.get $ring)))
                (br_if $some (i32.ne (local.get $tail) (local.get $head)))
                (call $await (i32.add (local.get $ring) (i32.const 64)) (local.get $head))
                (br $empty)))))
        (call $del (call $slot (local.get $ring) (local.get $cap) (local.get $head)))
        (local.set $head (i32.add (local.get $head) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (if (i32.ge_u (local.get $k) (local.get $batch))
          (then
            (i32.atomic.store (local.get $ring) (local.get $head))
            (local.set $k (i32.const 0))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (i32.atomic.store (local.get $ring) (local.get $head)))

  ;; One worker doing both: `n` blocks through the ring, `cap` at a time (bench/threads.mjs: a
  ;; batch of the pair; fill, then empty
  ;; it), so the same number of blocks is live as between a producer and its consumer.
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
