/**
 * A pickle virtual machine for protocols 0–5 that never executes anything.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes/bytearray → Uint8Array (a view into the input), tuple/list → Array, dict → Map (so a
 * key such as `__proto__` is just a key), set/frozenset → Set.
 *
 * Globals (`GLOBAL`, `STACK_GLOBAL`, `INST`) become `PickleGlobal` references. Calling one (`REDUCE`,
 * `NEWOBJ`, `NEWOBJ_EX`, `INST`, `OBJ`) looks its dotted name up in the caller's allow-list of handlers;
 * names not on the list produce an inert `PickleStub` that records the name, the arguments and any later
 * `BUILD` state or list/dict items. A few names that only make sense as an attack (`os.system`,
 * `builtins.eval`, …) are refused outright with an 'unsafe' error so a hostile file is reported as such.
 */
import { FilterDbError } from '../../errors.js';

/** A reference to a Python global (a class or function) by name. Inert: it is never resolved to code. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object of a class the caller did not allow: what was called, with what, and the state it got. */
export class PickleStub {
  /** `__setstate__` / `__dict__` payload from BUILD (a Map when it was a dict). */
  state: unknown = undefined;
  /** Items appended to it (list subclasses). */
  readonly listItems: unknown[] = [];
  /** Items set on it (dict subclasses). */
  readonly dictItems = new Map<unknown, unknown>();
  constructor(
    readonly className: string,
    readonly args: readonly unknown[],
    readonly kwargs: Map<unknown, unknown> | null = null,
  ) {}
}

/** What a handler may use while building a value. */
export interface PickleContext {
  /** Source name for error messages. */
  readonly name: string;
  /** Calls a callable found inside the pickle (a PickleGlobal) through the same allow-list. */
  call(callable: unknown, args: unknown[]): unknown;
  /** Throws a FilterDbError naming the source. */
  fail(code: 'corrupt' | 'unsupported' | 'unsafe' | 'too-large', detail: string): never;
}

/**
 * How one allowed global turns pickle data into a JS value. Every method is optional; a missing one
 * falls back to the inert stub behaviour.
 */
export interface PickleHandler {
  /** `callable(*args)` — REDUCE. Also used for NEWOBJ/INST/OBJ when `construct` is absent. */
  call?(args: unknown[], ctx: PickleContext): unknown;
  /** `cls.__new__(cls, *args, **kwargs)` — NEWOBJ, NEWOBJ_EX, INST, OBJ. */
  construct?(args: unknown[], kwargs: Map<unknown, unknown> | null, ctx: PickleContext): unknown;
  /** BUILD (`__setstate__`) on an object this handler produced; returns the object that replaces it. */
  build?(obj: unknown, state: unknown, ctx: PickleContext): unknown;
}

/** Allow-list: dotted global name ("collections.OrderedDict") → handler. */
export type PickleGlobals = ReadonlyMap<string, PickleHandler>;

export interface UnpickleOptions {
  /** Name used in error messages. */
  name: string;
  globals?: PickleGlobals;
  /** Resolves a persistent id (PERSID/BINPERSID). Without it, persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Protocol 5 out-of-band buffers, consumed by NEXT_BUFFER in order. */
  buffers?: Uint8Array[];
  /** Offset in `bytes` where the pickle starts (several pickles can follow each other). */
  offset?: number;
  maxStack?: number;
  maxMemo?: number;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

/** Globals that are safe and useful in almost every pickle. Merge them into your own list. */
export const basicGlobals: PickleGlobals = new Map<string, PickleHandler>([
  ['collections.OrderedDict', { call: (args) => dictFrom(args[0]) }],
  ['builtins.dict', { call: (args) => dictFrom(args[0]) }],
  ['builtins.list', { call: (args) => (Array.isArray(args[0]) ? [...args[0]] : []) }],
  ['builtins.tuple', { call: (args) => (Array.isArray(args[0]) ? [...args[0]] : []) }],
  ['builtins.set', { call: (args) => new Set(Array.isArray(args[0]) ? args[0] : []) }],
  ['builtins.frozenset', { call: (args) => new Set(Array.isArray(args[0]) ? args[0] : []) }],
  ['builtins.bytearray', { call: (args) => bytesFrom(args) }],
  ['builtins.bytes', { call: (args) => bytesFrom(args) }],
  // Protocol 2 pickles written by Python 3 encode bytes as _codecs.encode(latin1 text, 'latin1').
  ['_codecs.encode', { call: (args) => bytesFrom(args) }],
]);

/**
 * Callables that only appear in a pickle to run code. They are never executed anyway; refusing them gives
 * the user a clear 'unsafe' error instead of a puzzling "no weights found".
 */
const REFUSED_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'shutil',
  'socket',
  'pty',
  'runpy',
  'importlib',
  'ctypes',
  'webbrowser',
  'code',
  'commands',
  'marshal',
  'pickle',
  '_pickle',
  'multiprocessing',
  'asyncio',
  'pip',
  'timeit',
  'platform',
]);
const REFUSED_NAMES = new Set([
  'eval',
  'exec',
  'compile',
  '__import__',
  'open',
  'execfile',
  'input',
  'breakpoint',
  'getattr',
  'setattr',
  'delattr',
  'globals',
  'locals',
  'vars',
]);

/** The common Python 2 → 3 module renames of pickle's fix_imports. */
const PY2_MODULES = new Map([
  ['__builtin__', 'builtins'],
  ['copy_reg', 'copyreg'],
  ['exceptions', 'builtins'],
  ['cPickle', 'pickle'],
  ['UserDict', 'collections'],
]);

function isRefused(module: string, name: string): boolean {
  const root = module.split('.')[0];
  if (REFUSED_MODULES.has(root)) return true;
  return module === 'builtins' && REFUSED_NAMES.has(name);
}

function dictFrom(arg: unknown): Map<unknown, unknown> {
  if (arg instanceof Map) return new Map(arg);
  const out = new Map<unknown, unknown>();
  if (Array.isArray(arg))
    for (const pair of arg) if (Array.isArray(pair) && pair.length === 2) out.set(pair[0], pair[1]);
  return out;
}

function bytesFrom(args: unknown[]): Uint8Array {
  const [v] = args;
  if (v instanceof Uint8Array) return v.slice();
  if (typeof v === 'string') {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = v.charCodeAt(i) & 0xff;
    return out;
  }
  if (Array.isArray(v)) return Uint8Array.from(v.map((x) => Number(x) & 0xff));
  return new Uint8Array(0);
}

const MAX_LONG_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Runs one pickle and returns its value. Hostile or malformed input throws a FilterDbError. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Machine(bytes, options).run();
}

class Machine implements PickleContext {
  readonly name: string;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private pos: number;
  private stack: unknown[] = [];
  private readonly marks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly globals: PickleGlobals;
  private readonly made = new WeakMap<object, PickleHandler>();
  private readonly maxStack: number;
  private readonly maxMemo: number;
  private bufferIndex = 0;

  constructor(
    bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.name = options.name;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = options.offset ?? 0;
    this.globals = options.globals ?? basicGlobals;
    this.maxStack = options.maxStack ?? 1 << 24;
    this.maxMemo = options.maxMemo ?? 1 << 24;
  }

  fail(code: 'corrupt' | 'unsupported' | 'unsafe' | 'too-large' | 'truncated', detail: string): never {
    throw new FilterDbError(code, this.name, `pickle: ${detail}`);
  }

  run(): UnpickleResult {
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      if (op === 0x2e /* STOP */) {
        // Like CPython, STOP returns the top of the stack without checking that the rest is empty.
        return { value: this.top(), end: this.pos };
      }
      this.step(op, at);
      if (this.stack.length > this.maxStack) this.fail('too-large', 'stack limit exceeded');
    }
  }

  // ---- reading primitives ----

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length)
      this.fail('truncated', `ends early (needs ${n} bytes at ${this.pos})`);
  }
  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(this.bytes.length))
      this.fail('truncated', `declares ${v} bytes, more than the data holds`);
    return Number(v);
  }
  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated', 'text opcode without a newline');
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
  private text(n: number): string {
    const bytes = this.take(n);
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail('corrupt', 'invalid UTF-8 string');
    }
  }

  // ---- stack helpers ----

  private push(v: unknown): void {
    this.stack.push(v);
  }
  private pop(): unknown {
    if (this.stack.length === 0) this.fail('corrupt', 'stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length === 0) this.fail('corrupt', 'stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.marks.pop();
    if (!prev) this.fail('corrupt', 'no MARK to pop to');
    this.stack = prev;
    return items;
  }
  private memoPut(index: number, v: unknown): void {
    if (!this.memo.has(index) && this.memo.size >= this.maxMemo)
      this.fail('too-large', 'memo limit exceeded');
    this.memo.set(index, v);
  }
  private memoGet(index: number): unknown {
    if (!this.memo.has(index)) this.fail('corrupt', `memo entry ${index} is not defined`);
    return this.memo.get(index);
  }

  // ---- the opcodes ----

  private step(op: number, at: number): void {
    switch (op) {
      case 0x80: // PROTO
        if (this.u8() > 5) this.fail('unsupported', 'pickle protocol newer than 5');
        return;
      case 0x95: // FRAME: the whole pickle is in memory, frames need no special handling
        this.u64();
        return;
      case 0x28: // MARK
        this.marks.push(this.stack);
        this.stack = [];
        return;
      case 0x30: // POP
        if (this.stack.length === 0 && this.marks.length) this.popMark();
        else this.pop();
        return;
      case 0x31: // POP_MARK
        this.popMark();
        return;
      case 0x32: // DUP
        this.push(this.top());
        return;
      default:
        if (this.stepValue(op) || this.stepCollection(op) || this.stepMemo(op) || this.stepObject(op)) return;
        this.fail('corrupt', `unknown opcode 0x${op.toString(16).padStart(2, '0')} at offset ${at}`);
    }
  }

  /** Scalars: numbers, strings, bytes, None, booleans. */
  private stepValue(op: number): boolean {
    switch (op) {
      case 0x4e: // NONE
        this.push(null);
        return true;
      case 0x88: // NEWTRUE
        this.push(true);
        return true;
      case 0x89: // NEWFALSE
        this.push(false);
        return true;
      case 0x4b: // BININT1
        this.push(this.u8());
        return true;
      case 0x4d: // BININT2
        this.push(this.u16());
        return true;
      case 0x4a: // BININT
        this.push(this.i32());
        return true;
      case 0x8a: // LONG1
        this.push(this.long(this.u8()));
        return true;
      case 0x8b: // LONG4
        this.push(this.long(this.u32()));
        return true;
      case 0x49: // INT (text; "00"/"01" are False/True)
        this.push(this.textInt(this.line()));
        return true;
      case 0x4c: // LONG (text with trailing L)
        this.push(this.textInt(this.line().replace(/L$/, '')));
        return true;
      case 0x46: // FLOAT (text)
        this.push(this.textFloat(this.line()));
        return true;
      case 0x47: // BINFLOAT (big-endian double)
        this.need(8);
        this.push(this.view.getFloat64(this.pos, false));
        this.pos += 8;
        return true;
      default:
        return this.stepString(op);
    }
  }

  private stepString(op: number): boolean {
    switch (op) {
      case 0x58: // BINUNICODE
        this.push(this.text(this.u32()));
        return true;
      case 0x8c: // SHORT_BINUNICODE
        this.push(this.text(this.u8()));
        return true;
      case 0x8d: // BINUNICODE8
        this.push(this.text(this.u64()));
        return true;
      case 0x56: // UNICODE (raw-unicode-escape text)
        this.push(rawUnicodeEscape(this.line()));
        return true;
      case 0x53: // STRING (quoted repr, protocol 0)
        this.push(this.quotedString(this.line()));
        return true;
      case 0x54: // BINSTRING (Python 2 str: decoded as latin-1 like encoding='latin1')
        this.push(latin1.decode(this.take(this.i32())));
        return true;
      case 0x55: // SHORT_BINSTRING
        this.push(latin1.decode(this.take(this.u8())));
        return true;
      case 0x42: // BINBYTES
        this.push(this.take(this.u32()));
        return true;
      case 0x43: // SHORT_BINBYTES
        this.push(this.take(this.u8()));
        return true;
      case 0x8e: // BINBYTES8
        this.push(this.take(this.u64()));
        return true;
      case 0x96: // BYTEARRAY8
        this.push(this.take(this.u64()).slice());
        return true;
      case 0x97: {
        // NEXT_BUFFER (protocol 5 out-of-band data)
        const buf = this.options.buffers?.[this.bufferIndex++];
        if (!buf) this.fail('unsupported', 'out-of-band buffer requested but none supplied');
        this.push(buf);
        return true;
      }
      case 0x98: // READONLY_BUFFER
        this.top();
        return true;
      default:
        return false;
    }
  }

  /** Tuples, lists, dicts, sets. */
  private stepCollection(op: number): boolean {
    switch (op) {
      case 0x29: // EMPTY_TUPLE
        this.push([]);
        return true;
      case 0x85: // TUPLE1
        this.push([this.pop()]);
        return true;
      case 0x86: {
        // TUPLE2
        const b = this.pop();
        this.push([this.pop(), b]);
        return true;
      }
      case 0x87: {
        // TUPLE3
        const c = this.pop();
        const b = this.pop();
        this.push([this.pop(), b, c]);
        return true;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        this.push(this.popMark());
        return true;
      case 0x5d: // EMPTY_LIST
        this.push([]);
        return true;
      case 0x7d: // EMPTY_DICT
        this.push(new Map());
        return true;
      case 0x64: // DICT
        this.push(this.pairsToMap(this.popMark()));
        return true;
      case 0x8f: // EMPTY_SET
        this.push(new Set());
        return true;
      case 0x91: // FROZENSET
        this.push(new Set(this.popMark()));
        return true;
      case 0x61: {
        // APPEND
        const v = this.pop();
        this.appendTo(this.top(), [v]);
        return true;
      }
      case 0x65: {
        // APPENDS
        const items = this.popMark();
        this.appendTo(this.top(), items);
        return true;
      }
      case 0x90: {
        // ADDITEMS
        const items = this.popMark();
        this.appendTo(this.top(), items);
        return true;
      }
      case 0x73: {
        // SETITEM
        const v = this.pop();
        const k = this.pop();
        this.setItems(this.top(), [k, v]);
        return true;
      }
      case 0x75: {
        // SETITEMS
        const items = this.popMark();
        this.setItems(this.top(), items);
        return true;
      }
      default:
        return false;
    }
  }

  private stepMemo(op: number): boolean {
    switch (op) {
      case 0x70: // PUT (text index)
        this.memoPut(this.textIndex(this.line()), this.top());
        return true;
      case 0x71: // BINPUT
        this.memoPut(this.u8(), this.top());
        return true;
      case 0x72: // LONG_BINPUT
        this.memoPut(this.u32(), this.top());
        return true;
      case 0x94: // MEMOIZE
        this.memoPut(this.memo.size, this.top());
        return true;
      case 0x67: // GET
        this.push(this.memoGet(this.textIndex(this.line())));
        return true;
      case 0x68: // BINGET
        this.push(this.memoGet(this.u8()));
        return true;
      case 0x6a: // LONG_BINGET
        this.push(this.memoGet(this.u32()));
        return true;
      default:
        return false;
    }
  }

  /** Globals, calls, object construction, BUILD, persistent ids. */
  private stepObject(op: number): boolean {
    switch (op) {
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = this.line();
        this.push(this.global(module, this.line()));
        return true;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          this.fail('corrupt', 'STACK_GLOBAL needs two strings');
        this.push(this.global(module, name));
        return true;
      }
      case 0x52: {
        // REDUCE
        const args = this.pop();
        const callable = this.pop();
        this.push(this.call(callable, this.argList(args)));
        return true;
      }
      case 0x81: {
        // NEWOBJ
        const args = this.pop();
        const cls = this.pop();
        this.push(this.construct(cls, this.argList(args), null));
        return true;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        this.push(this.construct(cls, this.argList(args), kwargs instanceof Map ? kwargs : null));
        return true;
      }
      case 0x69: {
        // INST "module\nname\n" with args since MARK
        const module = this.line();
        const cls = this.global(module, this.line());
        this.push(this.construct(cls, this.popMark(), null));
        return true;
      }
      case 0x6f: {
        // OBJ: cls and args since MARK
        const items = this.popMark();
        if (items.length === 0) this.fail('corrupt', 'OBJ without a class');
        this.push(this.construct(items[0], items.slice(1), null));
        return true;
      }
      case 0x62: {
        // BUILD
        const state = this.pop();
        const obj = this.pop();
        this.push(this.build(obj, state));
        return true;
      }
      case 0x50: // PERSID (text id)
        this.push(this.persistent(this.line()));
        return true;
      case 0x51: // BINPERSID
        this.push(this.persistent(this.pop()));
        return true;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        this.fail('unsupported', 'extension registry codes (EXT1/2/4) are not supported');
        return true;
      default:
        return false;
    }
  }

  // ---- semantics ----

  private global(rawModule: string, name: string): PickleGlobal {
    // Protocol 0–2 pickles use Python 2 module names; Python 3 maps them (fix_imports), so do we.
    const module = PY2_MODULES.get(rawModule) ?? rawModule;
    if (isRefused(module, name)) {
      this.fail(
        'unsafe',
        `refuses global ${module}.${name} (a pickle that can run code); nothing was executed`,
      );
    }
    return new PickleGlobal(module, name);
  }

  call(callable: unknown, args: unknown[]): unknown {
    const handler = this.handlerFor(callable);
    if (handler?.call) return this.remember(handler.call(args, this), handler);
    return this.remember(new PickleStub(nameOf(callable), args), handler);
  }

  private construct(cls: unknown, args: unknown[], kwargs: Map<unknown, unknown> | null): unknown {
    const handler = this.handlerFor(cls);
    if (handler?.construct) return this.remember(handler.construct(args, kwargs, this), handler);
    if (handler?.call && !kwargs) return this.remember(handler.call(args, this), handler);
    return this.remember(new PickleStub(nameOf(cls), args, kwargs), handler);
  }

  private build(obj: unknown, state: unknown): unknown {
    const handler = typeof obj === 'object' && obj !== null ? this.made.get(obj) : undefined;
    if (handler?.build) return this.remember(handler.build(obj, state, this), handler);
    if (obj instanceof PickleStub) obj.state = state;
    // Other targets (plain dicts, lists): Python would set attributes; there is nothing to keep.
    return obj;
  }

  private handlerFor(callable: unknown): PickleHandler | undefined {
    if (callable instanceof PickleGlobal) return this.globals.get(callable.fullName);
    return undefined;
  }

  /** Records which handler made an object, so BUILD on it goes back to that handler. */
  private remember(value: unknown, handler: PickleHandler | undefined): unknown {
    if (handler && typeof value === 'object' && value !== null && !this.made.has(value))
      this.made.set(value, handler);
    return value;
  }

  private persistent(pid: unknown): unknown {
    if (!this.options.persistentLoad) this.fail('unsupported', 'persistent id without a loader');
    return this.options.persistentLoad(pid);
  }

  private appendTo(target: unknown, items: unknown[]): void {
    if (Array.isArray(target)) for (const v of items) target.push(v);
    else if (target instanceof Set) for (const v of items) target.add(v);
    else if (target instanceof PickleStub) for (const v of items) target.listItems.push(v);
    else this.fail('corrupt', 'APPEND to something that is not a list');
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2) this.fail('corrupt', 'SETITEMS with an odd number of items');
    const map = target instanceof Map ? target : target instanceof PickleStub ? target.dictItems : null;
    if (!map) this.fail('corrupt', 'SETITEM on something that is not a dict');
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  }

  private pairsToMap(items: unknown[]): Map<unknown, unknown> {
    const map = new Map<unknown, unknown>();
    this.setItems(map, items);
    return map;
  }

  private argList(args: unknown): unknown[] {
    if (!Array.isArray(args)) this.fail('corrupt', 'call arguments are not a tuple');
    return args;
  }

  private long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail('too-large', `integer of ${n} bytes`);
    const b = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return narrow(v);
  }

  private textInt(s: string): number | bigint | boolean {
    if (s === '00') return false;
    if (s === '01') return true;
    if (!/^[+-]?\d{1,4096}$/.test(s.trim()))
      this.fail('corrupt', `bad integer literal ${JSON.stringify(s.slice(0, 40))}`);
    return narrow(BigInt(s.trim()));
  }

  private textIndex(s: string): number {
    if (!/^\d{1,10}$/.test(s)) this.fail('corrupt', `bad memo index ${JSON.stringify(s.slice(0, 40))}`);
    return Number(s);
  }

  private textFloat(s: string): number {
    const t = s.trim();
    if (/^[+-]?inf$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^nan$/i.test(t)) return Number.NaN;
    const v = Number(t);
    if (t === '' || Number.isNaN(v))
      this.fail('corrupt', `bad float literal ${JSON.stringify(t.slice(0, 40))}`);
    return v;
  }

  private quotedString(s: string): string {
    const q = s[0];
    if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q)
      this.fail('corrupt', 'bad STRING literal');
    return pythonEscape(s.slice(1, -1));
  }
}

function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function nameOf(callable: unknown): string {
  if (callable instanceof PickleGlobal) return callable.fullName;
  if (callable instanceof PickleStub) return `${callable.className}()`;
  return '?';
}

/** Decodes Python's \x, \n, \\ … escapes of a protocol-0 STRING literal. */
function pythonEscape(s: string): string {
  const simple: Record<string, string> = {
    n: '\n',
    r: '\r',
    t: '\t',
    '\\': '\\',
    "'": "'",
    '"': '"',
    a: '\x07',
    b: '\b',
    f: '\f',
    v: '\v',
    '0': '\0',
  };
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(Number.parseInt(e, 8) & 0xff);
    return Object.hasOwn(simple, e) ? simple[e] : `\\${e}`;
  });
}

/** raw-unicode-escape: only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u: string, U: string) => {
    const cp = Number.parseInt(u ?? U, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
  });
}
