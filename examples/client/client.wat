;; A client module of wall-e: it has no memory, data or stack of its own. It imports wall-e's
;; memory and allocator, keeps its state in wasm globals, and stores everything else in blocks
;; it allocated. It builds two structures:
;;   - a singly linked list of i32 values, one 8-byte node per value: [next: u32][value: i32];
;;   - a growable byte string (e.g. "3,2,1"), grown by doubling with `reallocate`.
;; `run(n)` builds the list 1..n, writes its values into the string as decimal text separated
;; by commas (head first: "n,...,2,1"), and returns the FNV-1a hash of the string.
;; See README.md for the rules a client module follows.
(module
  (import "wall-e" "memory" (memory 1))
  (import "wall-e" "allocate" (func $allocate (param i32) (result i32)))
  (import "wall-e" "deallocate" (func $deallocate (param i32)))
  (import "wall-e" "reallocate" (func $reallocate (param i32 i32) (result i32)))
  (import "wall-e" "size" (func $size (param i32) (result i32)))

  ;; The list: its first node and length.
  (global $head (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  ;; The string: its block (0 while empty), length and capacity (= size() of the block).
  (global $str (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))

  ;; ---- linked list ----------------------------------------------------------------------

  ;; Prepends a node holding $v. Returns 1, or 0 when out of memory (the list is unchanged).
  (func $list_push (export "list_push") (param $v i32) (result i32)
    (local $node i32)
    (local.set $node (call $allocate (i32.const 8)))
    (if (i32.eqz (local.get $node)) (then (return (i32.const 0))))
    (i32.store (local.get $node) (global.get $head))
    (i32.store offset=4 (local.get $node) (local.get $v))
    (global.set $head (local.get $node))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.const 1))

  (func (export "list_head") (result i32) (global.get $head))
  (func (export "list_len") (result i32) (global.get $count))

  ;; The wrapping sum of the values.
  (func $list_sum (export "list_sum") (result i32)
    (local $node i32) (local $sum i32)
    (local.set $node (global.get $head))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $node)))
        (local.set $sum (i32.add (local.get $sum) (i32.load offset=4 (local.get $node))))
        (local.set $node (i32.load (local.get $node)))
        (br $next)))
    (local.get $sum))

  ;; How many nodes wall-e does not report as live 8-byte blocks (0 when all is well).
  (func (export "list_bad_nodes") (result i32)
    (local $node i32) (local $bad i32)
    (local.set $node (global.get $head))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $node)))
        (if (i32.ne (call $size (local.get $node)) (i32.const 8))
          (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
        (local.set $node (i32.load (local.get $node)))
        (br $next)))
    (local.get $bad))

  ;; Frees every node.
  (func $list_clear (export "list_clear")
    (local $node i32) (local $next i32)
    (local.set $node (global.get $head))
    (block $done
      (loop $free
        (br_if $done (i32.eqz (local.get $node)))
        (local.set $next (i32.load (local.get $node)))
        (call $deallocate (local.get $node))
        (local.set $node (local.get $next))
        (br $free)))
    (global.set $head (i32.const 0))
    (global.set $count (i32.const 0)))

  ;; ---- growable string ------------------------------------------------------------------

  ;; Makes room for $extra more bytes, doubling the capacity (at least 8). Returns 1, or 0 when
  ;; out of memory (the string is unchanged: a failed reallocate keeps the old block).
  (func $str_reserve (param $extra i32) (result i32)
    (local $need i32) (local $cap i32) (local $block i32)
    (local.set $need (i32.add (global.get $len) (local.get $extra)))
    (if (i32.lt_u (local.get $need) (global.get $len)) (then (return (i32.const 0)))) ;; overflow
    (if (i32.le_u (local.get $need) (global.get $cap)) (then (return (i32.const 1))))
    (local.set $cap (select (global.get $cap) (i32.const 8) (global.get $cap)))
    (block $big
      (loop $double
        (br_if $big (i32.ge_u (local.get $cap) (local.get $need)))
        (if (i32.ge_u (local.get $cap) (i32.const 0x80000000))
          (then (local.set $cap (local.get $need)) (br $big)))
        (local.set $cap (i32.shl (local.get $cap) (i32.const 1)))
        (br $double)))
    ;; reallocate(0, n) allocates: the first block comes from the same call.
    (local.set $block (call $reallocate (global.get $str) (local.get $cap)))
    (if (i32.eqz (local.get $block)) (then (return (i32.const 0))))
    (global.set $str (local.get $block))
    (global.set $cap (local.get $cap))
    (i32.const 1))

  ;; Appends one byte. Returns 1, or 0 when out of memory.
  (func $str_push (export "str_push") (param $byte i32) (result i32)
    (if (i32.eqz (call $str_reserve (i32.const 1))) (then (return (i32.const 0))))
    (i32.store8 (i32.add (global.get $str) (global.get $len)) (local.get $byte))
    (global.set $len (i32.add (global.get $len) (i32.const 1)))
    (i32.const 1))

  ;; Appends $n (unsigned) in decimal. Returns 1, or 0 when out of memory.
  (func $str_push_u32 (export "str_push_u32") (param $n i32) (result i32)
    (local $digits i32) (local $rest i32) (local $at i32)
    ;; count the digits
    (local.set $digits (i32.const 1))
    (local.set $rest (i32.div_u (local.get $n) (i32.const 10)))
    (block $counted
      (loop $count
        (br_if $counted (i32.eqz (local.get $rest)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (local.set $rest (i32.div_u (local.get $rest) (i32.const 10)))
        (br $count)))
    (if (i32.eqz (call $str_reserve (local.get $digits))) (then (return (i32.const 0))))
    ;; write them backwards from the last one
    (local.set $at (i32.add (global.get $str) (i32.add (global.get $len) (local.get $digits))))
    (loop $write
      (local.set $at (i32.sub (local.get $at) (i32.const 1)))
      (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $write (local.get $n)))
    (global.set $len (i32.add (global.get $len) (local.get $digits)))
    (i32.const 1))

  (func (export "str_ptr") (result i32) (global.get $str))
  (func (export "str_len") (result i32) (global.get $len))
  (func (export "str_cap") (result i32) (global.get $cap))

  ;; Frees the string.
  (func $str_clear (export "str_clear")
    (call $deallocate (global.get $str)) ;; deallocate(0) is a no-op
    (global.set $str (i32.const 0))
    (global.set $len (i32.const 0))
    (global.set $cap (i32.const 0)))

  ;; Shrinks the string's block to its length and hands it over: the caller now owns the block
  ;; (size() of it is the string's length) and must free it; the client starts a new string.
  ;; Returns 0 for an empty string.
  (func (export "str_finish") (result i32)
    (local $block i32)
    (if (i32.eqz (global.get $len)) (then (call $str_clear) (return (i32.const 0))))
    (local.set $block (call $reallocate (global.get $str) (global.get $len)))
    ;; Shrinking cannot really fail, but if it did the old block is still valid and owned.
    (if (i32.eqz (local.get $block)) (then (local.set $block (global.get $str))))
    (global.set $str (i32.const 0))
    (global.set $len (i32.const 0))
    (global.set $cap (i32.const 0))
    (local.get $block))

  ;; ---- putting it together --------------------------------------------------------------

  ;; FNV-1a (32-bit) of $len bytes at $p.
  (func $fnv1a (export "fnv1a") (param $p i32) (param $len i32) (result i32)
    (local $hash i32) (local $end i32)
    (local.set $hash (i32.const 0x811c9dc5))
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $hash (i32.mul (i32.xor (local.get $hash) (i32.load8_u (local.get $p))) (i32.const 0x01000193)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (local.get $hash))

  ;; Builds the list 1..$n and the string "n,...,2,1" from it (replacing any previous ones) and
  ;; returns the string's FNV-1a hash. Both stay allocated for the host to inspect. Traps
  ;; (unreachable) when out of memory.
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $node i32)
    (call $list_clear)
    (call $str_clear)
    (local.set $i (i32.const 1))
    (block $built
      (loop $push
        (br_if $built (i32.gt_u (local.get $i) (local.get $n)))
        (if (i32.eqz (call $list_push (local.get $i))) (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $push)))
    (local.set $node (global.get $head))
    (block $written
      (loop $each
        (br_if $written (i32.eqz (local.get $node)))
        (if (i32.ne (local.get $node) (global.get $head))
          (then (if (i32.eqz (call $str_push (i32.const 44))) (then unreachable))))
        (if (i32.eqz (call $str_push_u32 (i32.load offset=4 (local.get $node)))) (then unreachable))
        (local.set $node (i32.load (local.get $node)))
        (br $each)))
    (call $fnv1a (global.get $str) (global.get $len)))
)
