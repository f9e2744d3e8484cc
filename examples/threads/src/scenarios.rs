//! The scenarios tests/threads_example.rs runs on several threads at once, for `WallE`'s
//! per-thread caches (docs/threads.md): blocks filled with a pattern unique to their thread and
//! allocation, checked on every free and resize and wherever they travel; blocks handed between
//! threads through mailboxes in the shared memory (statics: every instance sees the same ones),
//! so that most frees are another thread's. Any byte out of place panics (the module traps).
//!
//! A block travels as one `u64`: its address (high 32 bits), length (16 bits) and tag (16 bits:
//! the thread in the top 4, a counter below). Its bytes are a function of the tag and the
//! offset; its alignment is 16 when the tag's low 3 bits are all set (the lock's path), else 8.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A tiny xorshift generator: the same sequence for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn byte(tag: u16, i: usize) -> u8 {
    ((tag as u32).wrapping_mul(0x9E37_79B1) ^ (i as u32).wrapping_mul(0x85EB_CA6B)).rotate_left(7)
        as u8
}

fn layout(len: usize, tag: u16) -> Layout {
    let align = if tag & 7 == 7 { 16 } else { 8 };
    Layout::from_size_align(len, align).unwrap()
}

fn unpack(b: u64) -> (*mut u8, usize, u16) {
    (
        (b >> 32) as usize as *mut u8,
        (b >> 16) as u16 as usize,
        b as u16,
    )
}

fn pack(p: *mut u8, len: usize, tag: u16) -> u64 {
    (p as usize as u64) << 32 | (len as u64) << 16 | tag as u64
}

/// Fills `from..len` of the block with its pattern.
fn fill(p: *mut u8, from: usize, len: usize, tag: u16) {
    for i in from..len {
        // SAFETY: `p` is a live block of at least `len` bytes, this thread's.
        unsafe { *p.add(i) = byte(tag, i) };
    }
}

/// Checks the block's first `len` bytes; panics (traps) on any byte out of place.
fn check(p: *mut u8, len: usize, tag: u16) {
    for i in 0..len {
        // SAFETY: as in `fill`.
        let got = unsafe { *p.add(i) };
        assert!(
            got == byte(tag, i),
            "block {p:?} (len {len}, tag {tag:#x}): byte {i} is {got}"
        );
    }
}

/// A new block of `len` bytes with its pattern; panics when memory is exhausted.
fn make(len: usize, tag: u16) -> u64 {
    // SAFETY: a nonzero size.
    let p = unsafe { alloc(layout(len, tag)) };
    assert!(!p.is_null(), "out of memory");
    fill(p, 0, len, tag);
    pack(p, len, tag)
}

/// Checks a block and frees it.
pub fn free(b: u64) {
    let (p, len, tag) = unpack(b);
    check(p, len, tag);
    // SAFETY: a live block of this layout (the tag fixes the alignment).
    unsafe { dealloc(p, layout(len, tag)) }
}

/// Resizes a block to `len` bytes: its first bytes kept (checked), the rest filled.
fn resize(b: u64, len: usize) -> u64 {
    let (p, old, tag) = unpack(b);
    check(p, old, tag);
    // SAFETY: a live block of this layout; `len` is nonzero.
    let q = unsafe { realloc(p, layout(old, tag), len) };
    assert!(!q.is_null(), "out of memory");
    check(q, old.min(len), tag);
    fill(q, old.min(len), len, tag);
    pack(q, len, tag)
}

/// A request size: mostly the small sizes a thread's cache serves (1–256 B), some up to 4 KiB,
/// a few up to 20 KB (the lock's paths).
fn size(rng: &mut Rng) -> usize {
    let r = rng.next();
    match r % 100 {
        0..=84 => 1 + (r >> 8) as usize % 256,
        85..=96 => 257 + (r >> 8) as usize % 3_840,
        _ => 4_097 + (r >> 8) as usize % 16_000,
    }
}

/// Tags for thread `me`: its number in the top 4 bits, a counter below.
struct Tags(u16, u16);

impl Tags {
    fn new(me: u32) -> Self {
        Tags((me as u16 & 15) << 12, 0)
    }
    fn next(&mut self) -> u16 {
        self.1 = (self.1 + 1) & 0x0fff;
        self.0 | self.1
    }
}

/// Slots through which the stress hands blocks between threads.
const EXCHANGE: usize = 256;
static EXCHANGED: [AtomicU64; EXCHANGE] = [const { AtomicU64::new(0) }; EXCHANGE];

/// Walks the heap (the caller's cache too): panics on a broken invariant.
fn walk() {
    if let Err(c) = crate::A.validate() {
        panic!("heap walk: {} at {}", c.what, c.at);
    }
}

/// **The random stress:** `ops` random operations on 64 blocks of this thread's: allocate
/// (the old block freed), resize, free, or swap with one of the exchange's slots (every thread's
/// blocks go there, so that the block taken out is most often another thread's, later freed or
/// resized here). A heap walk every 10,000 operations, the cache handed back every 1,000.
/// Returns the bytes checked.
pub fn stress(me: u32, seed: u32, ops: u32) -> u64 {
    let mut rng = Rng::new(seed as u64 ^ (me as u64) << 32);
    let mut tags = Tags::new(me);
    let mut own = vec![0u64; 64];
    let mut checked = 0u64;
    for op in 0..ops {
        let r = rng.next();
        let i = r as usize % own.len();
        match (r >> 8) % 10 {
            0..=3 => {
                if own[i] != 0 {
                    checked += unpack(own[i]).1 as u64;
                    free(own[i]);
                }
                own[i] = make(size(&mut rng), tags.next());
            }
            4 | 5 if own[i] != 0 => {
                checked += unpack(own[i]).1 as u64;
                own[i] = resize(own[i], size(&mut rng));
            }
            6 | 7 if own[i] != 0 => {
                checked += unpack(own[i]).1 as u64;
                free(own[i]);
                own[i] = 0;
            }
            8 | 9 => {
                let j = (r >> 16) as usize % EXCHANGE;
                let got = EXCHANGED[j].swap(own[i], Ordering::AcqRel);
                if got != 0 {
                    let (p, len, tag) = unpack(got);
                    check(p, len, tag);
                    checked += len as u64;
                }
                own[i] = got;
            }
            _ => {}
        }
        if op % 10_000 == 9_999 {
            walk();
        }
        // The thread's cache handed back now and then, while the others run: its blocks go
        // back under the lock one by one and its bins refill from the heap again. (Since a
        // thread keeps its working set in bins of up to 1,024 blocks, this stress rarely
        // refilled or flushed otherwise, and a build whose refills and flushes lost their lock,
        // `make threads-nosync`, passed it in Node and Chromium.)
        if op % 1_000 == 999 {
            crate::A.release_thread_cache();
        }
    }
    for b in own {
        if b != 0 {
            checked += unpack(b).1 as u64;
            free(b);
        }
    }
    checked
}

/// Frees whatever the stress left in the exchange (checked): the number of blocks.
pub fn drain() -> u32 {
    let mut n = 0;
    for slot in &EXCHANGED {
        let b = slot.swap(0, Ordering::AcqRel);
        if b != 0 {
            free(b);
            n += 1;
        }
    }
    n
}

/// One mailbox per thread: a batch (a `Box<Vec<u64>>`, its address) or 0.
static MAILBOX: [AtomicU32; 16] = [const { AtomicU32::new(0) }; 16];

/// **The cross-thread free storm:** thread `me` of `threads` sends `rounds` batches of `batch`
/// blocks (1 B–4 KiB, patterned) to the next thread's mailbox, and receives as many from the
/// previous thread, which it checks and frees (the batch's `Vec` too): every block is freed by
/// another thread than the one that allocated it. While it waits, it goes on allocating and
/// freeing blocks of its own. Returns the blocks it freed.
pub fn storm(me: u32, threads: u32, rounds: u32, batch: u32) -> u32 {
    let mut rng = Rng::new(me as u64 + 77);
    let mut tags = Tags::new(me);
    let to = &MAILBOX[((me + 1) % threads) as usize];
    let inbox = &MAILBOX[me as usize];
    let (mut sent, mut received, mut freed) = (0, 0, 0);
    let mut pending: Option<Box<Vec<u64>>> = None;
    let mut own = vec![0u64; 32];
    while sent < rounds || received < rounds {
        if pending.is_none() && sent < rounds {
            let blocks = (0..batch)
                .map(|_| {
                    let len = match rng.next() % 8 {
                        0 => 257 + rng.next() as usize % 3_840,
                        _ => 1 + rng.next() as usize % 256,
                    };
                    make(len, tags.next())
                })
                .collect();
            pending = Some(Box::new(blocks));
        }
        if let Some(b) = pending.take() {
            let raw = Box::into_raw(b);
            match to.compare_exchange(0, raw as u32, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => sent += 1,
                // SAFETY: not sent: still ours.
                Err(_) => pending = Some(unsafe { Box::from_raw(raw) }),
            }
        }
        let got = inbox.swap(0, Ordering::AcqRel);
        if got != 0 {
            // SAFETY: a batch the previous thread sent, now ours alone.
            let b = unsafe { Box::from_raw(got as usize as *mut Vec<u64>) };
            for &block in b.iter() {
                free(block);
                freed += 1;
            }
            received += 1;
        }
        let i = rng.next() as usize % own.len();
        if own[i] != 0 {
            free(own[i]);
        }
        own[i] = make(1 + rng.next() as usize % 128, tags.next());
    }
    for b in own {
        if b != 0 {
            free(b);
        }
    }
    freed
}

/// Blocks a thread leaves behind for the next one.
static LEFT: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

/// **Threads that end with live blocks:** frees (checked) what the thread before left, churns
/// a little, then leaves `count` blocks of its own (1–512 B) for the next thread. Returns the
/// blocks it freed.
pub fn hand_over(me: u32, count: u32) -> u32 {
    let mut freed = 0;
    for slot in &LEFT {
        let b = slot.swap(0, Ordering::AcqRel);
        if b != 0 {
            free(b);
            freed += 1;
        }
    }
    let mut rng = Rng::new(me as u64 + 1_000);
    let mut tags = Tags::new(me);
    let mut churn = vec![0u64; 16];
    for _ in 0..1_000 {
        let i = rng.next() as usize % churn.len();
        if churn[i] != 0 {
            free(churn[i]);
        }
        churn[i] = make(1 + rng.next() as usize % 512, tags.next());
    }
    for b in churn {
        if b != 0 {
            free(b);
        }
    }
    for slot in LEFT.iter().take(count as usize) {
        slot.store(
            make(1 + rng.next() as usize % 512, tags.next()),
            Ordering::Release,
        );
    }
    freed
}

/// **A thread's cache, seen by the heap walk:** allocates `count` blocks of 8–256 B and frees
/// them (they go to this thread's cache, or back to the heap when a bin is full).
pub fn fill_cache(count: u32) {
    let mut tags = Tags::new(15);
    let blocks: Vec<u64> = (0..count)
        .map(|i| make(8 * (1 + i as usize % 32), tags.next() & !7))
        .collect();
    for b in blocks {
        free(b);
    }
}

/// **Small-object churn** for the timing run (examples/threads_churn.rs): `live` boxes of
/// 1–64 bytes, each step replacing a random one. Returns a checksum.
pub fn churn(seed: u32, steps: u32, live: u32) -> u64 {
    let mut rng = Rng::new(seed as u64);
    let mut slots: Vec<Box<[u8]>> = (0..live).map(|_| vec![1u8; 8].into_boxed_slice()).collect();
    let mut sum = 0u64;
    for _ in 0..steps {
        let r = rng.next();
        let i = r as usize % slots.len();
        let len = 1 + (r >> 32) as usize % 64;
        sum += slots[i][0] as u64;
        slots[i] = vec![len as u8; len].into_boxed_slice();
    }
    sum
}

/// One figure of a heap walk (`WallE::validate`, under the lock, the caller's cache checked too):
/// 0 used blocks, 1 cached blocks (freed, held by a thread's cache or the heap's: neither used
/// nor free), 2 free blocks, 3 heap bytes, 4 used bytes, 5 cached bytes; -1 if an invariant is
/// broken. (Both example crates export it.)
pub fn heap_figure(a: &wall_e::WallE, which: u32) -> i32 {
    let Ok(s) = a.validate() else {
        return -1;
    };
    (match which {
        0 => s.used_blocks,
        1 => s.cached_blocks,
        2 => s.free_blocks,
        3 => s.heap_bytes,
        4 => s.used_bytes,
        5 => s.cached_bytes,
        _ => return -1,
    }) as i32
}
