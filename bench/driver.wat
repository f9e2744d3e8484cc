;; The benchmark's workload driver (see examples/bench.rs). It imports an allocator's memory and
;; its four ABI functions and replays seeded random workloads from inside wasm, so that the host
;; call overhead does not drown the allocator.
;;
;; It has no data and no stack of its own in the shared memory: its only state besides wasm
;; globals is the slot table, a block it allocates from the allocator itself in `setup`, before
;; the timed part. A slot is 8 bytes: the block's address (+0) and the size asked for (+4).
;;
;; Every block is touched as programs do: its first and last bytes are written with the low byte
;; of its size when it is allocated; that first byte is checked again before the block is freed
;; and after it is reallocated (and the last byte of the old contents after growth), so a broken
;; allocator shows up in `errors`; nil results (out of memory) are counted in `nils`.
;;
;; Counters (exported globals): `ops` counts calls into the allocator (allocate, deallocate,
;; reallocate), `live` and `peak` the bytes asked for of the live blocks (the slot table is not
;; counted), `errors` the failed checks, `reallocs` the growths by `reallocate` and `moved` those
;; of them that moved the block.
(module
  (import "alloc" "memory" (memory 0))
  (import "alloc" "allocate" (func $allocate (param i32) (result i32)))
  (import "alloc" "deallocate" (func $deallocate (param i32)))
  (import "alloc" "reallocate" (func $reallocate (param i32 i32) (result i32)))

  (global $rng (mut i64) (i64.const 0))
  (global $table (mut i32) (i32.const 0))
  (global $ops (export "ops") (mut i64) (i64.const 0))
  (global $live (export "live") (mut i64) (i64.const 0))
  (global $peak (export "peak") (mut i64) (i64.const 0))
  (global $errors (export "errors") (mut i32) (i32.const 0))
  (global $nils (export "nils") (mut i32) (i32.const 0))
  (global $reallocs (export "reallocs") (mut i64) (i64.const 0))
  (global $moved (export "moved") (mut i64) (i64.const 0))

  ;; ---- setup ---------------------------------------------------------------------------------

  ;; Seeds the generator and allocates a zeroed slot table of `cap` slots; false on failure.
  (func (export "setup") (param $cap i32) (param $seed i64) (result i32)
    (local $t i32)
    (global.set $rng (local.get $seed))
    (local.set $t (call $allocate (i32.shl (local.get $cap) (i32.const 3))))
    (global.set $table (local.get $t))
    (if (i32.eqz (local.get $t)) (then (return (i32.const 0))))
    (memory.fill (local.get $t) (i32.const 0) (i32.shl (local.get $cap) (i32.const 3)))
    (i32.const 1))

  ;; ---- random numbers (a 64-bit LCG; its high half) -------------------------------------------

  (func $rand (result i32)
    (global.set $rng
      (i64.add (i64.mul (global.get $rng) (i64.const 6364136223846793005))
               (i64.const 1442695040888963407)))
    (i32.wrap_i64 (i64.shr_u (global.get $rng) (i64.const 32))))

  ;; Uniform in [0, n).
  (func $below (param $n i32) (result i32)
    (i32.wrap_i64
      (i64.shr_u
        (i64.mul (i64.extend_i32_u (call $rand)) (i64.extend_i32_u (local.get $n)))
        (i64.const 32))))

  ;; Uniform in [lo, hi].
  (func $range (param $lo i32) (param $hi i32) (result i32)
    (i32.add (local.get $lo)
      (call $below (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.const 1)))))

  ;; A size: uniform in [lo, hi], or when `log` is set, log-uniform: a power of two 2^k with k
  ;; uniform in [0, hi) and then uniform in [2^k, 2^(k+1)).
  (func $pick (param $lo i32) (param $hi i32) (param $log i32) (result i32)
    (local $p i32)
    (if (result i32) (local.get $log)
      (then
        (local.set $p (i32.shl (i32.const 1) (call $below (local.get $hi))))
        (i32.add (local.get $p) (call $below (local.get $p))))
      (else (call $range (local.get $lo) (local.get $hi)))))

  ;; ---- touched, checked allocator calls ------------------------------------------------------

  (func $note_live (param $delta i64)
    (global.set $live (i64.add (global.get $live) (local.get $delta)))
    (if (i64.gt_s (global.get $live) (global.get $peak))
      (then (global.set $peak (global.get $live)))))

  ;; Allocates `size` (> 0) bytes and writes its first and last byte.
  (func $new (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (call $allocate (local.get $size)))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1)))
    (if (i32.eqz (local.get $p))
      (then
        (global.set $nils (i32.add (global.get $nils) (i32.const 1)))
        (return (i32.const 0))))
    (i32.store8 (local.get $p) (local.get $size))
    (i32.store8 (i32.sub (i32.add (local.get $p) (local.get $size)) (i32.const 1)) (local.get $size))
    (call $note_live (i64.extend_i32_u (local.get $size)))
    (local.get $p))

  ;; Checks and frees a block of `size` bytes (nil is skipped).
  (func $del (param $p i32) (param $size i32)
    (if (i32.eqz (local.get $p)) (then (return)))
    (if (i32.ne (i32.load8_u (local.get $p)) (i32.and (local.get $size) (i32.const 255)))
      (then (global.set $errors (i32.add (global.get $errors) (i32.const 1)))))
    (call $deallocate (local.get $p))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1)))
    (call $note_live (i64.sub (i64.const 0) (i64.extend_i32_u (local.get $size)))))

  ;; The address of slot `i`.
  (func $slot (param $i i32) (result i32)
    (i32.add (global.get $table) (i32.shl (local.get $i) (i32.const 3))))

  ;; Slot `i` := a new block of `size` bytes.
  (func $put (param $i i32) (param $size i32)
    (local $a i32)
    (local.set $a (call $slot (local.get $i)))
    (i32.store (local.get $a) (call $new (local.get $size)))
    (i32.store offset=4 (local.get $a) (local.get $size)))

  ;; Frees the block of slot `i`.
  (func $drop (param $i i32)
    (local $a i32)
    (local.set $a (call $slot (local.get $i)))
    (call $del (i32.load (local.get $a)) (i32.load offset=4 (local.get $a))))

  ;; Frees the blocks of slots [from, to).
  (func $drop_all (param $from i32) (param $to i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (call $drop (local.get $from))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $next))))

  ;; Slot `i`'s block := reallocated to `size` (> its size) bytes, contents checked, the new last
  ;; byte and the first byte rewritten.
  (func $grow (param $i i32) (param $size i32)
    (local $a i32) (local $p i32) (local $old i32) (local $q i32)
    (local.set $a (call $slot (local.get $i)))
    (local.set $p (i32.load (local.get $a)))
    (local.set $old (i32.load offset=4 (local.get $a)))
    (local.set $q (call $reallocate (local.get $p) (local.get $size)))
    (global.set $ops (i64.add (global.get $ops) (i64.const 1)))
    (if (i32.eqz (local.get $q))
      (then
        (global.set $nils (i32.add (global.get $nils) (i32.const 1)))
        (return)))
    (global.set $reallocs (i64.add (global.get $reallocs) (i64.const 1)))
    (if (i32.ne (local.get $p) (local.get $q))
      (then (global.set $moved (i64.add (global.get $moved) (i64.const 1)))))
    (if (local.get $p)
      (then
        (if (i32.or
              (i32.ne (i32.load8_u (local.get $q)) (i32.and (local.get $old) (i32.const 255)))
              (i32.ne (i32.load8_u (i32.sub (i32.add (local.get $q) (local.get $old)) (i32.const 1)))
                      (i32.and (local.get $old) (i32.const 255))))
          (then (global.set $errors (i32.add (global.get $errors) (i32.const 1)))))))
    (i32.store8 (local.get $q) (local.get $size))
    (i32.store8 (i32.sub (i32.add (local.get $q) (local.get $size)) (i32.const 1)) (local.get $size))
    (i32.store (local.get $a) (local.get $q))
    (i32.store offset=4 (local.get $a) (local.get $size))
    (call $note_live (i64.extend_i32_u (i32.sub (local.get $size) (local.get $old)))))

  ;; ---- workloads -----------------------------------------------------------------------------

  ;; Random churn: `n` live blocks of sizes from `$pick(lo, hi, log)`; each step frees a random
  ;; one and allocates its replacement; then everything is freed.
  (func (export "churn") (param $n i32) (param $lo i32) (param $hi i32) (param $log i32)
                         (param $steps i32)
    (local $i i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $put (local.get $i) (call $pick (local.get $lo) (local.get $hi) (local.get $log)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $i (call $below (local.get $n)))
        (call $drop (local.get $i))
        (call $put (local.get $i) (call $pick (local.get $lo) (local.get $hi) (local.get $log)))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step)))
    (call $drop_all (i32.const 0) (local.get $n)))

  ;; LIFO: each round pushes a random number (1..max_depth) of blocks, sizes in [lo, hi], and pops
  ;; them all in reverse order.
  (func (export "lifo") (param $rounds i32) (param $max_depth i32) (param $lo i32) (param $hi i32)
    (local $d i32) (local $i i32)
    (block $done
      (loop $round
        (br_if $done (i32.eqz (local.get $rounds)))
        (local.set $d (call $range (i32.const 1) (local.get $max_depth)))
        (local.set $i (i32.const 0))
        (block $pushed
          (loop $push
            (br_if $pushed (i32.ge_u (local.get $i) (local.get $d)))
            (call $put (local.get $i) (call $range (local.get $lo) (local.get $hi)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $push)))
        (block $popped
          (loop $pop
            (br_if $popped (i32.eqz (local.get $i)))
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (call $drop (local.get $i))
            (br $pop)))
        (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
        (br $round))))

  ;; FIFO: a queue of `q` blocks, sizes in [lo, hi]; each step frees the oldest and allocates a
  ;; new one; then everything is freed.
  (func (export "fifo") (param $q i32) (param $steps i32) (param $lo i32) (param $hi i32)
    (local $i i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $q)))
        (call $put (local.get $i) (call $range (local.get $lo) (local.get $hi)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (call $drop (local.get $i))
        (call $put (local.get $i) (call $range (local.get $lo) (local.get $hi)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eq (local.get $i) (local.get $q)) (then (local.set $i (i32.const 0))))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step)))
    (call $drop_all (i32.const 0) (local.get $q)))

  ;; Growing buffers: `n` buffers (slots [0, n)), each with a limit (the size field of slot
  ;; n + i). Each step picks a random buffer and grows it by `$grow_by`: doubling when `double`
  ;; is set (vectors), else by 1..16 bytes (string building). A buffer that would pass its limit
  ;; is freed and restarted at 1..16 bytes with a new limit in [lim_lo, lim_hi], a power of two
  ;; 2^k with k in [lim_lo, lim_hi] when doubling. Then everything is freed.
  (func (export "grow") (param $n i32) (param $steps i32) (param $double i32)
                        (param $lim_lo i32) (param $lim_hi i32)
    (local $i i32) (local $size i32) (local $next i32) (local $lim i32)
    (local.set $i (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $put (local.get $i) (call $range (i32.const 1) (i32.const 16)))
        (call $set_limit (i32.add (local.get $n) (local.get $i))
          (local.get $double) (local.get $lim_lo) (local.get $lim_hi))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $steps)))
        (local.set $i (call $below (local.get $n)))
        (local.set $size (i32.load offset=4 (call $slot (local.get $i))))
        (local.set $lim (i32.load offset=4 (call $slot (i32.add (local.get $n) (local.get $i)))))
        (local.set $next
          (if (result i32) (local.get $double)
            (then (i32.shl (local.get $size) (i32.const 1)))
            (else (i32.add (local.get $size) (call $range (i32.const 1) (i32.const 16))))))
        (if (i32.gt_u (local.get $next) (local.get $lim))
          (then
            (call $drop (local.get $i))
            (call $put (local.get $i) (call $range (i32.const 1) (i32.const 16)))
            (call $set_limit (i32.add (local.get $n) (local.get $i))
              (local.get $double) (local.get $lim_lo) (local.get $lim_hi)))
          (else (call $grow (local.get $i) (local.get $next))))
        (local.set $steps (i32.sub (local.get $steps) (i32.const 1)))
        (br $step)))
    (call $drop_all (i32.const 0) (local.get $n)))

  (func $set_limit (param $slot i32) (param $double i32) (param $lo i32) (param $hi i32)
    (i32.store offset=4 (call $slot (local.get $slot))
      (if (result i32) (local.get $double)
        (then (i32.shl (i32.const 1) (call $range (local.get $lo) (local.get $hi))))
        (else (call $range (local.get $lo) (local.get $hi))))))

  ;; Scaling, setup (untimed): 3n/2 blocks of 16..64 bytes, then every third one freed: n live
  ;; blocks and n/2 holes between them.
  (func (export "holes") (param $n i32)
    (local $i i32) (local $total i32)
    (local.set $total (i32.add (local.get $n) (i32.shr_u (local.get $n) (i32.const 1))))
    (local.set $i (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $total)))
        (call $put (local.get $i) (call $range (i32.const 16) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.set $i (i32.const 1))
    (block $done
      (loop $free
        (br_if $done (i32.ge_u (local.get $i) (local.get $total)))
        (call $drop (local.get $i))
        (i32.store (call $slot (local.get $i)) (i32.const 0))
        (local.set $i (i32.add (local.get $i) (i32.const 3)))
        (br $free))))

  ;; Scaling, timed: `m` allocations of 128..256 bytes, too big for any hole, into slots from
  ;; `first` on (kept live).
  (func (export "misfits") (param $first i32) (param $m i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $m)))
        (call $put (local.get $first) (call $range (i32.const 128) (i32.const 256)))
        (local.set $first (i32.add (local.get $first) (i32.const 1)))
        (local.set $m (i32.sub (local.get $m) (i32.const 1)))
        (br $next))))

  ;; A parser: `rounds` times, builds a tree of `nodes` nodes (20..64 bytes: first child at +4,
  ;; next sibling at +8, size at +12) as a recursive-descent parser would, with a short-lived
  ;; token (1..32 bytes) for every leaf, then frees the whole tree depth-first. The slot table
  ;; (at least nodes + 64 slots) serves as the explicit stack, 4 bytes an entry.
  (func (export "tree") (param $rounds i32) (param $nodes i32)
    (local $sp i32) (local $count i32) (local $top i32) (local $n i32) (local $r i32)
    (block $finished
      (loop $round
        (br_if $finished (i32.eqz (local.get $rounds)))
        ;; build
        (local.set $n (call $node))
        (i32.store (global.get $table) (local.get $n))
        (local.set $sp (i32.const 1))
        (local.set $count (i32.const 1))
        (block $built
          (loop $step
            (br_if $built (i32.ge_u (local.get $count) (local.get $nodes)))
            (local.set $top
              (i32.load (i32.add (global.get $table)
                (i32.shl (i32.sub (local.get $sp) (i32.const 1)) (i32.const 2)))))
            (local.set $r (call $below (i32.const 8)))
            (if (i32.lt_u (local.get $r) (i32.const 6))
              (then
                ;; a new child of the innermost open node
                (local.set $n (call $node))
                (if (local.get $n)
                  (then
                    (i32.store offset=8 (local.get $n) (i32.load offset=4 (local.get $top)))
                    (i32.store offset=4 (local.get $top) (local.get $n))))
                (local.set $count (i32.add (local.get $count) (i32.const 1)))
                (if (i32.and (i32.lt_u (local.get $r) (i32.const 3))
                             (i32.lt_u (local.get $sp) (i32.const 64)))
                  (then
                    ;; an inner node: open it
                    (i32.store (i32.add (global.get $table) (i32.shl (local.get $sp) (i32.const 2)))
                      (local.get $n))
                    (local.set $sp (i32.add (local.get $sp) (i32.const 1))))
                  (else
                    ;; a leaf: its token is read and dropped
                    (call $del (call $new (local.tee $r (call $range (i32.const 1) (i32.const 32))))
                      (local.get $r)))))
              (else
                ;; close the innermost open node
                (if (i32.gt_u (local.get $sp) (i32.const 1))
                  (then (local.set $sp (i32.sub (local.get $sp) (i32.const 1)))))))
            (br $step)))
        ;; free depth-first
        (local.set $sp (i32.const 1))
        (block $freed
          (loop $pop
            (br_if $freed (i32.eqz (local.get $sp)))
            (local.set $sp (i32.sub (local.get $sp) (i32.const 1)))
            (local.set $n
              (i32.load (i32.add (global.get $table) (i32.shl (local.get $sp) (i32.const 2)))))
            (if (local.get $n)
              (then
                (i32.store (i32.add (global.get $table) (i32.shl (local.get $sp) (i32.const 2)))
                  (i32.load offset=8 (local.get $n)))
                (i32.store (i32.add (global.get $table)
                             (i32.shl (i32.add (local.get $sp) (i32.const 1)) (i32.const 2)))
                  (i32.load offset=4 (local.get $n)))
                (local.set $sp (i32.add (local.get $sp) (i32.const 2)))
                (call $del (local.get $n) (i32.load offset=12 (local.get $n)))))
            (br $pop)))
        (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
        (br $round))))

  ;; A tree node with no children or siblings yet.
  (func $node (result i32)
    (local $size i32) (local $n i32)
    (local.set $size (call $range (i32.const 20) (i32.const 64)))
    (local.set $n (call $new (local.get $size)))
    (if (local.get $n)
      (then
        (i32.store offset=4 (local.get $n) (i32.const 0))
        (i32.store offset=8 (local.get $n) (i32.const 0))
        (i32.store offset=12 (local.get $n) (local.get $size))))
    (local.get $n))
)
