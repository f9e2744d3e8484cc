// A real AssemblyScript program (strings, arrays, maps, sets, classes, closures over indices),
// run under two runtimes: the wall-e runtime (rt/wall-e.ts, wall-e's memory and allocator) and
// asc's default (its own memory, TLSF): both must return the same text.

class Account {
  history: f64[] = [];
  constructor(public owner: string, public balance: f64) {}
  deposit(amount: f64): void {
    this.balance += amount;
    this.history.push(amount);
  }
  toString(): string {
    return this.owner + ":" + this.balance.toString() + "(" + this.history.length.toString() + ")";
  }
}

let state: u32 = 1;
function next(): u32 {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

const WORDS = ["wall", "e", "heap", "block", "free", "list", "size", "class", "map", "string"];

function sentence(n: i32): string {
  let parts = new Array<string>();
  for (let i = 0; i < n; i++) parts.push(WORDS[<i32>(next() % <u32>WORDS.length)]);
  return parts.join(" ");
}

/** `rounds` rounds of work; the text is a digest the host compares. */
export function run(seed: u32, rounds: i32): string {
  state = seed | 1;
  let counts = new Map<string, i32>();
  let accounts = new Map<string, Account>();
  let seen = new Set<i32>();
  let lines = new Array<string>();
  let total: f64 = 0;
  for (let r = 0; r < rounds; r++) {
    let text = sentence(5 + <i32>(next() % 40));
    let words = text.split(" ");
    for (let i = 0; i < words.length; i++) {
      let w = words[i];
      counts.set(w, counts.has(w) ? counts.get(w) + 1 : 1);
    }
    let owner = words[0].toUpperCase() + "-" + (next() % 13).toString();
    if (!accounts.has(owner)) accounts.set(owner, new Account(owner, 0));
    let account = accounts.get(owner);
    account.deposit(<f64>(next() % 10000) / 100);
    let lengths = words.map<i32>((w: string) => w.length);
    let long = lengths.filter((n: i32) => n > 3).length;
    let sum = lengths.reduce<i32>((a: i32, b: i32) => a + b, 0);
    seen.add(sum);
    total += <f64>sum / <f64>words.length;
    let sorted = words.slice(0);
    sorted.sort((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0));
    if (r % 50 == 0) lines.push(r.toString() + " " + sorted.slice(0, 3).join(",") + " " + long.toString() + " " + text.replaceAll("e", "E").substring(0, 20));
  }
  let keys = counts.keys();
  keys.sort((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0));
  let tally = new Array<string>();
  for (let i = 0; i < keys.length; i++) tally.push(keys[i] + "=" + counts.get(keys[i]).toString());
  let owners = accounts.keys();
  owners.sort((a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0));
  let richest = "";
  let best: f64 = -1;
  for (let i = 0; i < owners.length; i++) {
    let a = accounts.get(owners[i]);
    if (a.balance > best) {
      best = a.balance;
      richest = a.toString();
    }
  }
  lines.push(tally.join(" "));
  lines.push("accounts " + owners.length.toString() + " richest " + richest);
  lines.push("distinct sums " + seen.size.toString() + " mean " + total.toString());
  return lines.join("\n");
}

/** Runs the collector (asc's, on either runtime) and returns nothing: the host then measures. */
export function collect(): void {
  __collect();
}
