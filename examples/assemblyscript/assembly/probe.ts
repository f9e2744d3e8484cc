export function hello(n: i32): string { let s = ""; for (let i = 0; i < n; i++) s += i.toString(); return s; }
