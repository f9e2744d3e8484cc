//! Linking a position-independent client module (the dynamic-linking convention: `dylink.0`,
//! `__memory_base`, `__table_base`, `__stack_pointer`) beside a wall-e instance under wasmtime:
//! the Rust twin of `pkg/clients.js`'s `loadClient` (docs/clients.md says what both do).
#![allow(dead_code)]

use super::wasm::{engine, Wall};
use wasmtime::{
    Global, GlobalType, Instance, Linker, Module, Mutability, Ref, RefType, Table, TableType, Val,
    ValType,
};

/// What a PIC module's `dylink.0` (subsection 1, WASM_DYLINK_MEM_INFO) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DylinkInfo {
    pub memory_size: u32,
    /// In bytes (the section stores log2).
    pub memory_align: u32,
    pub table_size: u32,
    pub table_align: u32,
}

fn leb(bytes: &[u8], at: &mut usize) -> u32 {
    let (mut value, mut shift) = (0u32, 0);
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= ((byte & 0x7f) as u32) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return value;
        }
    }
}

/// The module's `dylink.0` memory info, or `None` when it has none (not a PIC module).
pub fn dylink_info(wasm: &[u8]) -> Option<DylinkInfo> {
    let mut at = 8; // magic and version
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at) as usize;
        let end = at + size;
        if id == 0 {
            let mut p = at;
            let name_len = leb(wasm, &mut p) as usize;
            if &wasm[p..p + name_len] == b"dylink.0" {
                p += name_len;
                while p < end {
                    let kind = wasm[p];
                    p += 1;
                    let len = leb(wasm, &mut p) as usize;
                    let next = p + len;
                    if kind == 1 {
                        return Some(DylinkInfo {
                            memory_size: leb(wasm, &mut p),
                            memory_align: 1 << leb(wasm, &mut p),
                            table_size: leb(wasm, &mut p),
                            table_align: 1 << leb(wasm, &mut p),
                        });
                    }
                    p = next;
                }
                return Some(DylinkInfo {
                    memory_size: 0,
                    memory_align: 1,
                    table_size: 0,
                    table_align: 1,
                });
            }
        }
        at = end;
    }
    None
}

/// A client linked beside a [`Wall`]: its data block, stack block and globals.
pub struct Client {
    pub instance: Instance,
    pub memory_base: u32,
    pub stack_base: u32,
    pub stack_top: u32,
    pub table_base: u32,
    pub stack_pointer: Global,
    blocks: Vec<u32>,
}

const fn align_up(n: u32, align: u32) -> u32 {
    n.div_ceil(align) * align
}

/// Links `wasm` beside `wall`: its static data in a zeroed wall-e block aligned as `dylink.0`
/// asks, a stack of `stack_size` bytes in another with a 16-aligned top, new globals, a new table
/// whose slot 0 stays empty (the null function pointer), wall-e's exports as its `"wall-e"`
/// imports; then `__wasm_apply_data_relocs` and `__wasm_call_ctors` when exported.
pub fn load_client(wall: &mut Wall, wasm: &[u8], stack_size: u32) -> wasmtime::Result<Client> {
    let info = dylink_info(wasm).ok_or_else(|| wasmtime::format_err!("no dylink.0 section"))?;
    let module = Module::new(engine(), wasm)?;
    let mut blocks = Vec::new();
    let mut memory_base = 0;
    if info.memory_size > 0 {
        let align = info.memory_align.max(8);
        let block = wall.allocate(info.memory_size + align - 8);
        assert_ne!(block, 0, "out of memory for the client's data");
        blocks.push(block);
        memory_base = align_up(block, align);
        // wall-e may hand out reused memory, and .bss is not in the data segments.
        wall.bytes_mut(memory_base, info.memory_size).fill(0);
    }
    let stack_base = wall.allocate(stack_size + 8);
    assert_ne!(stack_base, 0, "out of memory for the client's stack");
    blocks.push(stack_base);
    let stack_top = (stack_base + stack_size + 8) & !15;

    let store = &mut wall.store;
    let i32_global = |store: &mut _, mutability, value: u32| {
        Global::new(
            store,
            GlobalType::new(ValType::I32, mutability),
            Val::I32(value as i32),
        )
    };
    let stack_pointer = i32_global(&mut *store, Mutability::Var, stack_top)?;
    let table_base = align_up(1, info.table_align); // slot 0: the null function pointer
    let mut linker = Linker::new(engine());
    linker.define(&mut *store, "env", "memory", wall.memory)?;
    linker.define(&mut *store, "env", "__stack_pointer", stack_pointer)?;
    let memory_base_global = i32_global(&mut *store, Mutability::Const, memory_base)?;
    linker.define(&mut *store, "env", "__memory_base", memory_base_global)?;
    let table_base_global = i32_global(&mut *store, Mutability::Const, table_base)?;
    linker.define(&mut *store, "env", "__table_base", table_base_global)?;
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::FUNCREF, table_base + info.table_size, None),
        Ref::Func(None),
    )?;
    linker.define(&mut *store, "env", "__indirect_function_table", table)?;
    linker.instance(&mut *store, "wall-e", wall.instance)?;
    let instance = linker.instantiate(&mut *store, &module)?;
    for name in ["__wasm_apply_data_relocs", "__wasm_call_ctors"] {
        if let Ok(f) = instance.get_typed_func::<(), ()>(&mut *store, name) {
            f.call(&mut *store, ())?;
        }
    }
    Ok(Client {
        instance,
        memory_base,
        stack_base,
        stack_top,
        table_base,
        stack_pointer,
        blocks,
    })
}

impl Client {
    /// Frees the client's data and stack blocks; it must not be called afterwards.
    pub fn dispose(self, wall: &mut Wall) {
        for block in self.blocks {
            wall.deallocate(block);
        }
    }
}
