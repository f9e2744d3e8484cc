//! The heap's blocks as records, for the heap map and the leak list (`blocks` and `sequence` in
//! the stats module, `heap.map()` / `heap.live()` / `heap.leaks()` in pkg/heapmap.js). They
//! come from the heap walk ([`Heap::walk`], walk.rs): one traversal, which checks every block it
//! reports; nothing is allocated.
//!
//! A record covers `[start, start + 8 + size)`, and the records of a heap, in address order,
//! cover its regions: from the first region's start to the current region's end (`limit + 8`).
//! A marker's `size` is the gap up to the next region (memory that is not the heap's).

use crate::block::HEADER;
use crate::heap::Heap;
use crate::policy::Policy;
use crate::source::Source;
use crate::walk::{Corruption, Walked};

/// What a record is. **To add a kind** (a new block state): a variant here, its case in
/// `Span::of`, and its entry in `KINDS` in pkg/heapmap.js (how the map paints it).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A used block: `logical` bytes asked for, allocation number `seq` (traced build).
    Used = 0,
    /// A free block in a list.
    Free = 1,
    /// The spare (I4): free, in no list.
    Spare = 2,
    /// A region's end marker: 8 bytes of the heap, then `size` bytes up to the next region that
    /// are somebody else's.
    Marker = 3,
    /// The room above the bump pointer: `[start, start + size)` never handed out, and the
    /// region's last 8 bytes, kept for its marker.
    Room = 4,
    /// A freed block held by the cache of small blocks (I8): neither used nor free to the heap.
    Cached = 5,
}

/// One record, as the stats module writes it to memory: five little-endian `u32`s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// The block's header (the room: the bump pointer).
    pub start: u32,
    /// Bytes after the header: the effective size of a block; for a marker, the gap to the
    /// next region; for the room, `limit - top`.
    pub size: u32,
    /// A [`Kind`], as a number.
    pub kind: u32,
    /// A used block's logical size (0 for other kinds).
    pub logical: u32,
    /// A used block's allocation sequence number under a policy with a tail (I7), else 0.
    pub seq: u32,
}

impl Span {
    /// The record of one step of the walk at `header`.
    fn of<S: Source, P: Policy>(heap: &Heap<S, P>, header: u32, walked: &Walked) -> Span {
        let (kind, size, logical, seq) = match *walked {
            Walked::Used { logical, end } => {
                let eff = (end - header as u64) as u32 - HEADER;
                let seq = if P::TAIL >= 4 {
                    heap.seq(header, eff)
                } else {
                    0
                };
                (Kind::Used, eff, logical, seq)
            }
            Walked::Free { eff, spare, .. } => {
                let kind = if spare { Kind::Spare } else { Kind::Free };
                (kind, eff, 0, 0)
            }
            Walked::Marker { next } => (Kind::Marker, next - header - HEADER, 0, 0),
            Walked::Room { room } => (Kind::Room, room, 0, 0),
            Walked::Cached { eff, .. } => (Kind::Cached, eff, 0, 0),
        };
        Span {
            start: header,
            size,
            kind: kind as u32,
            logical,
            seq,
        }
    }
}

impl<S: Source, P: Policy> Heap<S, P> {
    /// Fills `out` with the records of the heap's blocks from `cursor` on, in address order, and
    /// returns how many it wrote and the cursor to continue from (0 when the last record, the
    /// room, is written). `cursor` 0 starts at the first block, after a whole [`Heap::validate`]:
    /// a corrupt heap gives its error, the same address `validate` reports. A later cursor must
    /// come from a call on the unchanged heap (the walk resumes there, checking each block it
    /// reads, so a stale cursor gives an error or wrong records, never a read outside the heap).
    /// O(heap) for cursor 0, then O(records).
    pub fn blocks(&self, cursor: u32, out: &mut [Span]) -> Result<(usize, u32), Corruption> {
        let from = if cursor == 0 {
            self.validate()?;
            if self.limit == 0 {
                return Ok((0, 0));
            }
            self.first
        } else {
            if self.limit == 0 || cursor & 7 != 0 || cursor < self.first || cursor > self.top {
                return Err(Corruption {
                    at: cursor,
                    what: "cursor outside the heap",
                });
            }
            cursor
        };
        let mut written = 0;
        let prev_free = (from == self.first).then_some(false);
        let next = self.walk(from, prev_free, |header, walked| {
            let Some(slot) = out.get_mut(written) else {
                return false;
            };
            *slot = Span::of(self, header, walked);
            written += 1;
            true
        })?;
        Ok((written, next))
    }

    /// Writes `seq` as the allocation sequence number of the used block at `p` (I7), under a
    /// policy with a tail ([`Traced`](crate::Traced)); otherwise, or when `p` is not a used
    /// block, does nothing. The traced module calls it after every allocate and reallocate.
    pub fn stamp(&mut self, p: u32, seq: u32) {
        if P::TAIL < 4 {
            return;
        }
        if let Some(header) = self.used_block(p) {
            let eff = self.eff(header);
            if self.logical(header) as u64 + P::TAIL as u64 <= eff as u64 {
                // SAFETY: `used_block` found a used block of `eff` bytes whose last word is past
                // its logical size (I7, checked).
                unsafe { self.set_seq(header, eff, seq) };
            }
        }
    }
}
