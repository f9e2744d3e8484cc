//! The size-tuned core (feature `small`): the same blocks, invariants and contract as the default
//! core in `heap.rs`, in as few instructions as possible. What differs (see the top of
//! `heap.rs`): one size class per power of two (`classes_small.rs`), no bitmap, no spare.
//!
//! Its shape is the module's: `allocate` is `reallocate(0, size)` and `deallocate` is
//! `reallocate(p, 0)`, so the module has one function for the three calls; `size` is the pointer
//! check `reallocate` uses. Every block handed out, shrunk or grown is placed by one labelled
//! block in `reallocate_aligned` (in place, else a list head, else the top) and ends in the one
//! `trim`; every path that frees memory ends in the one `release`. The rest of the module is
//! `unlink` and `ensure` (growth). scripts/small-post.mjs then turns the scalar statics into wasm
//! globals.

use super::*;

impl<S: Source> Heap<S> {
    /// `top`, read anew each time (a volatile read, only a hint to the compiler): where LLVM
    /// would keep it in a local across a call or a loop, that costs more code than reading the
    /// wasm global it becomes in the size-tuned module (scripts/small-post.mjs) again.
    #[inline(always)]
    fn top_now(&self) -> u32 {
        // SAFETY: a read of an initialised, aligned field of `self`.
        unsafe { core::ptr::read_volatile(&self.top) }
    }

    /// `limit`, read anew each time (see `top_now`).
    #[inline(always)]
    fn limit_now(&self) -> u32 {
        // SAFETY: a read of an initialised, aligned field of `self`.
        unsafe { core::ptr::read_volatile(&self.limit) }
    }

    /// Allocates `size` bytes, 8-aligned; 0 when `size` is 0 or memory is exhausted.
    /// (`reallocate(0, size)`: one function serves all three calls.)
    #[inline(always)]
    pub fn allocate(&mut self, size: u32) -> u32 {
        self.reallocate(0, size)
    }

    /// A listed free block for `need` bytes, or 0: the first list head that fits, from the
    /// request's own class down to the classes of larger blocks (the highest class with a fit
    /// has the smallest blocks). Only heads are looked at, at most 29: bounded work,
    /// whatever the number of free blocks (O(1)). Below the own class every block fits.
    #[inline(always)]
    fn take(&self, need: u32) -> u32 {
        let mut class = class_of(need);
        loop {
            let head = self.lists.heads[class];
            if head != 0 {
                // A free block's header word is its effective size plus `FREE` (I2: never
                // `PREV_FREE`): `word > need` is `eff >= need`, `word - need` is one more than
                // the surplus. An 8-byte surplus cannot be split off (and is over 125% below 32
                // bytes, I5): such a block is passed over at any size (a simpler test than at
                // small sizes only, with no measurable cost in memory under random churn).
                let word = self.read(head + 4);
                if word > need && word - need != HEADER + FREE {
                    return head;
                }
            }
            if class == 0 {
                return 0;
            }
            class -= 1;
        }
    }

    /// Gives the used block at `header` (whose own flags are `prev_flag`) `total` bytes of
    /// payload, then splits off everything beyond `need` as a free block when that is at least a
    /// minimal block (I5). The bytes after `total` must belong to a used block, a marker or `top`.
    fn trim(&mut self, header: u32, prev_flag: u32, total: u32, need: u32) {
        if total - need >= MIN_FREE_BLOCK {
            self.write(header + 4, need | prev_flag);
            self.release(header + HEADER + need, total - need - HEADER);
        } else {
            // The block after (or `top`, or a marker) is flagged as having a used block before
            // it. (At `top`, the word is zero or stale, and stays so.)
            self.write(header + 4, total | prev_flag);
            let next = header + HEADER + total;
            let next_word = self.read(next + 4);
            self.write(next + 4, next_word & !PREV_FREE);
        }
    }

    /// Makes the block at `start` free, `word` its header word (effective size and flags):
    /// merges it with a free left neighbour (when `word` has `PREV_FREE`) and a free right one,
    /// or gives it back to the bump pointer when it ends at `top` (I2).
    fn release(&mut self, mut start: u32, word: u32) {
        // Marked free first: when the block merges into the one before or goes back to the bump
        // pointer, this header stays behind, and a second `deallocate` must see it free.
        self.write(start + 4, word | FREE);
        let mut eff = word & !FLAGS;
        if word & PREV_FREE != 0 {
            // The footer of the free block before is its size plus `FREE`.
            start -= self.read(start - 4) + (HEADER - FREE);
            eff += self.unlink(start);
        }
        let next = start + HEADER + eff;
        if next == self.top {
            self.top = start;
            return;
        }
        let next_word = self.read(next + 4);
        if next_word & FREE != 0 {
            eff += self.unlink(next);
        } else {
            self.write(next + 4, next_word | PREV_FREE);
        }
        self.make_free(start, eff);
    }

    /// Pushes a new free block of `eff` bytes at `header` onto its list, and writes its header
    /// and footer (the footer is flagged free too, so that it never reads as a used header).
    fn make_free(&mut self, header: u32, eff: u32) {
        let class = class_of(eff);
        let next = self.lists.heads[class];
        self.write(header, next);
        self.write(header + HEADER, 0);
        if next != 0 {
            self.write(next + HEADER, header);
        }
        self.lists.heads[class] = header;
        #[cfg(feature = "checked")]
        // SAFETY: the payload between the prev link and the footer is inside the block.
        unsafe {
            self.at(header + 12, eff - 8)
                .write_bytes(POISON, eff as usize - 8)
        };
        self.write(header + 4, eff | FREE);
        self.write(header + 4 + eff, eff | FREE);
    }

    /// Takes the free block at `header` out of its list; returns its size with the header
    /// (`8 + eff`).
    fn unlink(&mut self, header: u32) -> u32 {
        // A free block's header word is its effective size plus `FREE` (I2: never `PREV_FREE`),
        // so `word + 7` is `8 + eff`, and `word` is in the class of `eff` (a multiple of 8 plus 1
        // is never a power of two).
        let word = self.read(header + 4);
        let class = class_of(word);
        let next = self.read(header);
        let prev = self.read(header + HEADER);
        if next != 0 {
            self.write(next + HEADER, prev);
        }
        if prev != 0 {
            self.write(prev, next);
        } else {
            self.lists.heads[class] = next;
        }
        word + (HEADER - FREE)
    }

    /// Frees the block at `p`. Nil, pointers that are not the start of a used block as far as its
    /// header shows, and a second free of the same block are ignored.
    #[inline(always)]
    pub fn deallocate(&mut self, p: u32) {
        self.reallocate(p, 0);
    }

    /// Frees the used block at `header`.
    #[inline(always)]
    fn free_used(&mut self, header: u32) {
        self.release(header, self.read(header + 4));
    }

    /// The logical size of the block at `p` (the size last asked for); 0 for nil or a pointer
    /// that is not a used block as far as its header shows (the cheap checks pass: aligned,
    /// inside the heap, a used header whose block is not empty and ends inside the heap). Unlike
    /// the default core it does not compare the logical size with the effective one: a freed
    /// header keeps its `FREE` flag (double frees), and
    /// `every_address_but_a_block_start_is_refused` in tests/core.rs shows the flags and bounds
    /// refuse every other address too.
    #[inline(never)]
    pub fn size(&self, p: u32) -> u32 {
        // Regions start 8-aligned, so an aligned `p` above `first` is at least `first + 8`.
        if p & 7 != 0 || p <= self.first || p >= self.top {
            return 0;
        }
        let word = self.read(p - 4);
        // With `FREE` and `LAST` clear, `word` is the effective size (a multiple of 8) plus 0 or
        // `PREV_FREE` (2), and `top - p` a multiple of 8: `word - 3 >= top - p` exactly when the
        // block is empty (it wraps: an all-zero "header" inside a payload) or ends past `top`.
        if word & (FREE | LAST) != 0 || word.wrapping_sub(3) >= self.top_now() - p {
            return 0;
        }
        self.read(p - HEADER)
    }

    /// [`Heap::reallocate`] for a block allocated with alignment `align`.
    #[inline(always)]
    pub fn reallocate_aligned(&mut self, p: u32, size: u32, align: u32) -> u32 {
        // A used block's logical size is never 0 (`size` 0 frees).
        let old = self.size(p);
        if old == 0 && p != 0 {
            return 0;
        }
        // The block's header (meaningless for `p` 0, when `old` is 0).
        let header = p.wrapping_sub(HEADER);
        // `size` 0 frees the block; else it is resized in place or moved, and then freed.
        let mut q = 0;
        if size != 0 {
            if size > MAX_REQUEST {
                return 0;
            }
            let need = (size + 7) & !7;
            // The block that gets `need` bytes: this one resized in place, else (8-aligned) a
            // free one, else a new one at the top; with its header word to be (size and flags).
            let (found, word) = 'placed: {
                if old != 0 {
                    if let Some(word) = self.resize_in_place(header, need) {
                        break 'placed (header, word);
                    }
                }
                if align > 8 {
                    q = self.allocate_over_aligned(size, align);
                    if q == 0 {
                        return 0;
                    }
                    break 'placed (0, 0);
                }
                let found = self.take(need);
                if found != 0 {
                    // A free block's left neighbour is used (I2): no PREV_FREE.
                    break 'placed (found, self.unlink(found) - HEADER);
                }
                if !self.ensure(HEADER + need) {
                    return 0;
                }
                // Exactly `need` bytes (taking the region's last 8 bytes too would break I5),
                // and the block below `top` is used (I2).
                let top = self.top;
                self.set_top(top + HEADER + need);
                (top, need)
            };
            if q == 0 {
                self.trim(found, word & PREV_FREE, word & !FLAGS, need);
                self.write(found, size);
                if found == header {
                    return p;
                }
                q = found + HEADER;
            }
            if old != 0 {
                let keep = old.min(size);
                // SAFETY: both blocks are used, distinct, and at least `keep` bytes long.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        self.at(p, keep),
                        self.at(q, keep),
                        keep as usize,
                    )
                };
            }
        }
        if old != 0 {
            self.free_used(header);
        }
        q
    }

    /// The header word (payload and `PREV_FREE`) the used block at `header` has before `trim`
    /// when it can get `need` bytes in place: it shrinks, takes the free block after it, or
    /// moves `top` when it is the last one; else `None`.
    #[inline(always)]
    fn resize_in_place(&mut self, header: u32, need: u32) -> Option<u32> {
        let word = self.read(header + 4);
        let eff = word & !FLAGS;
        if need <= eff {
            return Some(word);
        }
        let next = header + HEADER + eff;
        if next == self.top {
            // Growth may open a new region instead of extending this one: then move.
            if self.ensure(need - eff) && self.top == next {
                // All the room up to the end of the region; `trim` gives the rest back.
                self.set_top(self.limit);
                return Some(word + (self.limit - next));
            }
        } else {
            let next_word = self.read(next + 4);
            // A free block's word is its size plus `FREE` (I2): `next_word + 7` is `8 + eff`.
            let total = word + next_word + (HEADER - FREE);
            if next_word & FREE != 0 && total & !FLAGS >= need {
                self.unlink(next);
                return Some(total);
            }
        }
        None
    }

    /// [`Heap::allocate_aligned`] for `align` > 8: a block with room for an aligned payload
    /// wherever it starts; the gap in front becomes a free block, the tail is split off.
    pub(super) fn allocate_over_aligned(&mut self, size: u32, align: u32) -> u32 {
        let Some(need) = effective(size) else {
            return 0;
        };
        // The gap in front is at most `align + 8` (a gap of exactly 8 cannot be a free block, so
        // it grows by one more alignment step).
        let Some(room) = need.checked_add(align + 8).filter(|&r| r <= MAX_REQUEST) else {
            return 0;
        };
        let mut header = self.take(room);
        let mut eff;
        if header != 0 {
            eff = self.unlink(header) - HEADER;
        } else {
            if !self.ensure(HEADER + room) {
                return 0;
            }
            header = self.top;
            self.set_top(header + HEADER + room);
            eff = room;
        }
        let gap = aligned_gap(header, align);
        let mut prev_flag = 0;
        if gap != 0 {
            // The block's left neighbour is used (it was free or at `top`), and so is its right
            // part: the gap becomes a free block with no free neighbour.
            self.make_free(header, gap - HEADER);
            header += gap;
            eff -= gap;
            prev_flag = PREV_FREE;
        }
        self.trim(header, prev_flag, eff, need);
        self.write(header, size);
        header + HEADER
    }

    /// Makes room for `bytes` more at `top`, growing memory if needed: the memory the source
    /// started with first, then `memory.grow` for all the pages missing in one call. When memory
    /// grew somewhere else since the last growth, the current region is closed — a `LAST` marker
    /// at `top` spans the room left and the gap up to the next region — and a new one starts in
    /// the new pages (so `top` moves). (The default build makes that room a free block; here it
    /// is given up, at most the rest of a page-rounded growth each time another module grows
    /// memory in between: 29 bytes of code, against the 1,024-byte goal.) False when the memory cannot grow; the heap
    /// is unchanged then, but for a possible new empty region.
    #[inline(never)]
    fn ensure(&mut self, bytes: u32) -> bool {
        loop {
            // `top <= limit` always, and both are 0 before the first region.
            let room = self.limit_now() - self.top_now();
            if bytes <= room {
                return true;
            }
            // Requests are capped (MAX_REQUEST), so this sum cannot overflow; the 8 bytes are
            // a new region's marker.
            let pages = (bytes - room + HEADER + PAGE - 1) >> 16;
            if self.first == 0 {
                let (base, heap_end) = self.source.initial();
                let mut start = base.wrapping_add(7) & !7;
                let mut end = heap_end & !7;
                // The range may be too small to hold a block and its marker (or empty): then the
                // heap starts in grown memory instead.
                if end.saturating_sub(start) < 24 {
                    let Some((grown, grown_end)) = self.grow(pages) else {
                        return false;
                    };
                    (start, end) = (grown, grown_end);
                }
                self.first = start;
                self.top = start;
                if TRACK_FRESH {
                    self.region = start;
                    self.fresh = start;
                }
                self.limit = end.wrapping_sub(HEADER);
                continue;
            }
            let Some((start, end)) = self.grow(pages) else {
                return false;
            };
            // The new pages extend the current region when they follow it.
            if start != self.limit + HEADER {
                // The marker goes at `top`: a used block that spans the room left and the gap to
                // the new region (so the walk finds the next region at its end).
                let top = self.top;
                // (Its size, `start - top - 8`, has its low 3 bits clear: `| LAST` is `+ 4`.)
                self.write(top + 4, start - top - (HEADER - LAST));
                self.top = start;
                if TRACK_FRESH {
                    self.region = start;
                    self.fresh = start;
                }
            }
            self.limit = end.wrapping_sub(HEADER);
        }
    }

    /// `memory.grow` by `pages`: the new pages' start and end (2^32 wraps to 0), or `None`.
    #[inline(always)]
    fn grow(&mut self, pages: u32) -> Option<(u32, u32)> {
        let start = self.source.grow(pages)? << 16;
        Some((start, start.wrapping_add(pages << 16)))
    }
}
