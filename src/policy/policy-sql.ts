import type { AnyMongoAbility } from '@casl/ability';
import { rulesToCondition } from '@casl/ability/extra';

/**
 * How one policy attribute of a subject reads in SQL, over the alias of the
 * query that lists it. The JavaScript value policy sees for a row must be
 * exactly what this expression gives: `text` a string (uuid columns as their
 * lower-case text), `number` a number, `boolean` a boolean, each null where
 * `nullable` and the expression is NULL; `text[]` an array of strings (never
 * NULL, no NULL element); `object` a jsonb object whose values are strings.
 */
export type SqlAttribute =
  | { type: 'text'; sql: string; nullable?: boolean; uuid?: boolean }
  | { type: 'number' | 'boolean'; sql: string; nullable?: boolean }
  | { type: 'text[]' | 'object'; sql: string; nullable?: never };

/** A subject's attributes as SQL: exactly the keys its attribute object has. */
export type SqlAttributes = Readonly<Record<string, SqlAttribute>>;

/** Registers a bind parameter and answers its placeholder (`$3`, `:vis3`); values never enter SQL text. */
export type Bind = (value: unknown) => string;

/** A binder for raw queries whose parameters are numbered from `$1`, after `params` already there. */
export function positionalBinder(params: unknown[]): Bind {
  return (value) => {
    params.push(value);
    return `$${params.length}`;
  };
}

/** What CASL would see at a path: its shape known now, its value in SQL. */
type Val =
  | { k: 'root' }
  | { k: 'undef' }
  | { k: 'scalar'; type: 'text' | 'number' | 'boolean'; sql: string; uuid?: boolean; nullAs: 'never' | 'null' | 'undefined' }
  | { k: 'array'; sql: string }
  // A key that is not an index, read through an array of strings: CASL collects it from each element, and strings have none.
  | { k: 'empty' }
  | { k: 'object'; sql: string };

interface Node {
  operator: string;
  value: unknown;
  field?: string;
}

const ITSELF = '__itself__';
const TRUE = 'TRUE';
const FALSE = 'FALSE';
const INDEX = /^(0|[1-9][0-9]*)$/;
const isNumericKey = (key: string) => !Number.isNaN(Number(key));
// Keys JavaScript finds on strings, arrays or objects that are not data: CASL would read functions or lengths there.
const inherited = (key: string) => key in Object.prototype || key in Array.prototype || key in String.prototype;
const ASTRAL = '[\u{10000}-\u{10FFFF}]';
// Two noncharacters for the two halves: only what matches any unit (".", negated classes, \D \S \W) matches them, as in JavaScript.
const SURROGATE_STANDINS = '\uFDD0\uFDD1';
// A string holding these may order differently in UTF-16 (JavaScript) than by code point (PostgreSQL's "C").
const HIGH = /[\uD800-\uDFFF\uE000-\uFFFF]/;

/** The condition cannot be put in SQL exactly; the caller narrows instead of guessing. */
class Untranslatable extends Error {}

/** ucast's compare: strict equality, else JavaScript's `>`. */
function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  return (a as number) > (b as number) ? 1 : -1;
}

function testRegex(re: RegExp, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  re.lastIndex = 0;
  const matched = re.test(value);
  re.lastIndex = 0;
  return matched;
}

/** ucast's field operators on one value (after CASL unwrapped arrays), for the values known now: null, undefined, an object. */
const SCALAR_OPS: Record<string, (x: unknown, v: unknown) => boolean> = {
  lt: (x, v) => compare(x, v) === -1,
  lte: (x, v) => compare(x, v) !== 1,
  gt: (x, v) => compare(x, v) === 1,
  gte: (x, v) => compare(x, v) !== -1,
  in: (x, v) => (v as unknown[]).some((item) => (item instanceof RegExp ? testRegex(item, x) : compare(item, x) === 0)),
  regex: (x, v) => testRegex(v as RegExp, x),
};

const SQL_COMPARE: Record<string, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=' };

const WHITESPACE = '\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const CLASS_ESCAPES: Record<string, string> = { d: '0-9', w: 'A-Za-z0-9_', s: WHITESPACE };
const CHAR_ESCAPES: Record<string, string> = { t: '\\t', n: '\\n', r: '\\r', f: '\\f', v: '\\v' };

/**
 * A JavaScript regular expression as a PostgreSQL ARE that matches the same
 * strings, for the part of the syntax both read alike; anything else is
 * Untranslatable. `guard` says whether the pattern can match a single UTF-16
 * unit of an astral character (".", a negated class, \D, \S, \W).
 */
function regexToPostgres(re: RegExp): { pattern: string; caseInsensitive: boolean; guard: boolean } {
  const flags = re.flags;
  if (/[^gisd]/.test(flags)) throw new Untranslatable(`regex flags "${flags}"`);
  const caseInsensitive = flags.includes('i');
  const dotAll = flags.includes('s');
  const source = re.source;
  if (/[\uD800-\uFFFF]/.test(source)) throw new Untranslatable('a character above U+D7FF in a regex');
  if (caseInsensitive && [...source].some((c) => c > '\x7f')) throw new Untranslatable('a case-insensitive regex with non-ASCII characters');
  let out = '';
  let guard = false;
  // Open groups, each whether it is a lookaround: JavaScript lets one be quantified, PostgreSQL refuses.
  const groups: boolean[] = [];
  let i = 0;
  const next = () => source[i++]!;
  while (i < source.length) {
    const c = next();
    if (c === '\\') {
      if (i >= source.length) throw new Untranslatable('a trailing backslash');
      const e = next();
      if (e in CLASS_ESCAPES) out += `[${CLASS_ESCAPES[e]}]`;
      else if (e.toLowerCase() in CLASS_ESCAPES) {
        out += `[^${CLASS_ESCAPES[e.toLowerCase()]}]`;
        guard = true;
      } else if (e in CHAR_ESCAPES) out += CHAR_ESCAPES[e];
      else if (/[A-Za-z0-9]/.test(e)) throw new Untranslatable(`the regex escape \\${e}`);
      else out += `\\${e}`;
    } else if (c === '.') {
      if (dotAll) out += '.';
      else out += '[^\n\r\u2028\u2029]';
      guard = true;
    } else if (c === '[') {
      let body = '';
      if (source[i] === '^') {
        body += next();
        guard = true;
      }
      if (source[i] === ']') throw new Untranslatable('an empty regex class');
      for (;;) {
        if (i >= source.length) throw new Untranslatable('an unclosed regex class');
        const d = next();
        if (d === ']') break;
        if (d === '[') throw new Untranslatable('"[" inside a regex class');
        if (d === '\\') {
          const e = next();
          if (e in CLASS_ESCAPES) body += CLASS_ESCAPES[e];
          else if (e in CHAR_ESCAPES) body += CHAR_ESCAPES[e];
          else if (/[A-Za-z0-9]/.test(e) || e === undefined) throw new Untranslatable(`the regex escape \\${e ?? ''} in a class`);
          else body += `\\${e}`;
        } else body += d;
      }
      out += `[${body}]`;
    } else if (c === '(') {
      if (source[i] === '?') {
        const head = source.slice(i, i + 3);
        if (head.startsWith('?:') || head.startsWith('?=') || head.startsWith('?!')) {
          groups.push(!head.startsWith('?:'));
          out += `(${source.slice(i, i + 2)}`;
          i += 2;
        } else if (head === '?<=' || head === '?<!') {
          groups.push(true);
          out += `(${head}`;
          i += 3;
        } else throw new Untranslatable('a named group or an unknown group in a regex');
      } else {
        groups.push(false);
        out += '(';
      }
    } else if (c === ')') {
      if (groups.pop() && i < source.length && '*+?{'.includes(source[i]!)) throw new Untranslatable('a quantified lookaround in a regex');
      out += c;
    } else if (c === '{') {
      const quantifier = /^\{[0-9]+(,[0-9]*)?\}/.exec(source.slice(i - 1));
      if (quantifier) {
        // PostgreSQL refuses counts above 255 (RE_DUPMAX).
        if (quantifier[0].match(/[0-9]+/g)!.some((n) => Number(n) > 255)) throw new Untranslatable('a regex repetition count above 255');
        out += quantifier[0];
        i += quantifier[0].length - 1;
      } else out += '\\{';
    } else if (c === '}' || c === ']') out += `\\${c}`;
    else if ('|^$*+?'.includes(c)) out += c;
    else if (/[A-Za-z0-9\s]/.test(c) || c > '\x7f') out += c;
    // Other ASCII punctuation: a backslash makes it literal in an ARE as it is in JavaScript.
    else out += `\\${c}`;
  }
  return { pattern: out, caseInsensitive, guard };
}

/**
 * Turns a CASL ability's rules for `action` on `subject` into one SQL
 * condition over `attributes`: allowing rules OR'd, each AND NOT the deny
 * rules above it (CASL's `rulesToCondition`), a rule without conditions
 * TRUE, no allowing rule FALSE. Every operator CASL's matcher knows is
 * translated with CASL's semantics (arrays match when an element does,
 * dotted paths, null and missing keys). What SQL cannot say exactly is
 * reported through `untranslatable` and resolved towards hiding: FALSE where
 * it would allow, TRUE where it would deny.
 */
export function rulesToSql(
  ability: AnyMongoAbility,
  action: string,
  subject: string,
  attributes: SqlAttributes,
  bind: Bind,
  untranslatable: (ruleId: string, why: string) => void,
): string {
  // Values are bound once the condition is whole: a branch that folds away (a path that ends early,
  // deny rules with no allow) must leave no parameter behind that the query never names.
  const values: unknown[] = [];
  const mark: Bind = (value) => `\uE000${values.push(value) - 1}\uE001`;
  const condition = rulesToCondition(
    ability.rulesFor(action, subject),
    (rule) => {
      const ruleId = String((rule.origin as { ruleId?: string }).ruleId ?? '?');
      let ast: Node;
      try {
        ast = rule.ast as Node;
      } catch (error) {
        untranslatable(ruleId, (error as Error).message);
        return FALSE;
      }
      const translator = new Translator(attributes, mark, (why) => untranslatable(ruleId, why));
      return rule.inverted ? `NOT ${translator.node(ast, false)}` : translator.node(ast, true);
    },
    {
      and: (parts: string[]) => (parts.length ? `(${parts.join(' AND ')})` : TRUE),
      or: (parts: string[]) => `(${parts.join(' OR ')})`,
      empty: () => TRUE,
    },
  );
  const placeholders = new Map<number, string>();
  return (condition ?? FALSE).replace(/\uE000([0-9]+)\uE001/g, (_, i: string) => {
    const n = Number(i);
    if (!placeholders.has(n)) placeholders.set(n, bind(values[n]));
    return placeholders.get(n)!;
  });
}

class Translator {
  private aliases = 0;

  constructor(
    private readonly attributes: SqlAttributes,
    private readonly bind: Bind,
    private readonly report: (why: string) => void,
  ) {}

  /** `positive`: whether TRUE here makes the row more visible (an even number of NOTs above). */
  node(node: Node, positive: boolean, element?: Val): string {
    try {
      return this.translate(node, positive, element);
    } catch (error) {
      if (!(error instanceof Untranslatable)) throw error;
      this.report(error.message);
      return positive ? FALSE : TRUE;
    }
  }

  private translate(node: Node, positive: boolean, element?: Val): string {
    switch (node.operator) {
      case 'and': {
        const parts = (node.value as Node[]).map((child) => this.node(child, positive, element));
        return parts.length ? `(${parts.join(' AND ')})` : TRUE;
      }
      case 'or': {
        const parts = (node.value as Node[]).map((child) => this.node(child, positive, element));
        return parts.length ? `(${parts.join(' OR ')})` : FALSE;
      }
      case 'not':
        return `(NOT ${this.node((node.value as Node[])[0]!, !positive, element)})`;
      case 'eq':
        return this.eq(node, element);
      case 'ne':
        return `(NOT ${this.node({ ...node, operator: 'eq' }, !positive, element)})`;
      case 'nin':
        return `(NOT ${this.node({ ...node, operator: 'in' }, !positive, element)})`;
      case 'exists':
        return this.exists(node, element);
      case 'size':
        return this.size(node, element);
      case 'all':
        return this.all(node, element);
      case 'elemMatch':
        return this.elemMatch(node, positive, element);
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
      case 'in':
      case 'regex':
        return this.unwrapped(this.full(node.field!, element), (value) => this.scalarOp(node.operator, value, node.value));
      default:
        throw new Untranslatable(`the operator ${node.operator}`);
    }
  }

  // --- Paths, as @ucast/js reads them -------------------------------------

  /** One step `value[key]` from a value that is an object (or the attribute object). */
  private step(from: Val, key: string): Val {
    switch (from.k) {
      case 'root': {
        const attribute = this.attributes[key];
        if (!attribute) return { k: 'undef' };
        if (attribute.type === 'text[]') return { k: 'array', sql: attribute.sql };
        if (attribute.type === 'object') return { k: 'object', sql: attribute.sql };
        return { k: 'scalar', type: attribute.type, sql: attribute.sql, uuid: 'uuid' in attribute ? attribute.uuid : undefined, nullAs: attribute.nullable ? 'null' : 'never' };
      }
      case 'array':
        if (INDEX.test(key)) return { k: 'scalar', type: 'text', sql: `(${from.sql})[${Number(key) + 1}]`, nullAs: 'undefined' };
        if (inherited(key)) throw new Untranslatable(`the key "${key}" of an array`);
        return isNumericKey(key) ? { k: 'undef' } : { k: 'empty' };
      case 'empty':
        if (inherited(key)) throw new Untranslatable(`the key "${key}" of an array`);
        return isNumericKey(key) ? { k: 'undef' } : { k: 'empty' };
      case 'object':
        if (inherited(key)) throw new Untranslatable(`the key "${key}" of an object`);
        return { k: 'scalar', type: 'text', sql: `(${from.sql} ->> ${this.bind(key)}::text)`, nullAs: 'undefined' };
      default:
        return { k: 'undef' };
    }
  }

  /** CASL's getter for a whole dotted path: through objects, collecting a key from each element of an array. */
  private full(field: string, element?: Val): Val {
    if (field === ITSELF) return element!;
    if (element) throw new Untranslatable('field conditions inside $elemMatch on strings');
    const keys = field.split('.');
    let value: Val = { k: 'root' };
    for (let i = 0; i < keys.length; i++) {
      value = this.step(value, keys[i]!);
      const isObject = value.k === 'array' || value.k === 'empty' || value.k === 'object';
      if (!isObject && i < keys.length - 1) return { k: 'undef' };
    }
    return value;
  }

  /** The parent of a path's last key, and that key (ucast's getObjectFieldCursor). */
  private parent(field: string): [Val, string] {
    const at = field.lastIndexOf('.');
    return at === -1 ? [{ k: 'root' }, field] : [this.full(field.slice(0, at)), field.slice(at + 1)];
  }

  /** `parent[key]` with no collecting through arrays, undefined unless the parent is an object. */
  private single(parent: Val, key: string): Val {
    if (parent.k === 'root' || parent.k === 'object') return this.step(parent, key);
    if (parent.k === 'array') {
      if (INDEX.test(key)) return this.step(parent, key);
      if (inherited(key)) throw new Untranslatable(`the key "${key}" of an array`);
      return { k: 'undef' };
    }
    if (parent.k === 'empty' && inherited(key)) throw new Untranslatable(`the key "${key}" of an array`);
    return { k: 'undef' };
  }

  // --- Operators ------------------------------------------------------------

  private eq(node: Node, element?: Val): string {
    const field = node.field!;
    if (node.value === null) {
      if (field === ITSELF) return FALSE;
      if (element) throw new Untranslatable('field conditions inside $elemMatch on strings');
      const [parent, key] = this.parent(field);
      const collects = (parent.k === 'array' || parent.k === 'empty') && !isNumericKey(key);
      if (collects) return FALSE; // each element is a string, not an object with the key
      switch (parent.k) {
        case 'root': {
          const attribute = this.attributes[key];
          if (!attribute) return TRUE;
          return 'nullable' in attribute && attribute.nullable ? `(${attribute.sql} IS NULL)` : FALSE;
        }
        case 'object':
          return `(NOT (${parent.sql} ? ${this.bind(key)}::text))`;
        case 'array':
          return INDEX.test(key) ? `(cardinality(${parent.sql}) <= ${Number(key)})` : TRUE;
        case 'empty':
          return TRUE;
        default:
          return FALSE;
      }
    }
    const value = field === ITSELF ? element! : element ? this.full(field, element) : this.single(...this.parent(field));
    const v = node.value;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return FALSE; // objects and arrays are never === a fresh attribute
    switch (value.k) {
      case 'array':
        return typeof v === 'string' && !v.includes('\u0000') ? `(${this.bind(v)}::text = ANY(${value.sql}))` : FALSE;
      case 'scalar':
        return this.scalarEquals(value, [v]);
      default:
        return FALSE;
    }
  }

  /** The scalar is === one of `values` (primitives). */
  private scalarEquals(value: Extract<Val, { k: 'scalar' }>, values: unknown[]): string {
    const jsType = value.type === 'text' ? 'string' : value.type;
    const same = values.filter((v) => typeof v === jsType && !(typeof v === 'number' && Number.isNaN(v)));
    let sql: string;
    if (value.type === 'text') {
      const texts = (same as string[]).filter((v) => !v.includes('\u0000'));
      if (value.uuid) {
        // A uuid column reads as lower-case canonical text: no other string can equal it.
        const ids = texts.filter((v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v));
        if (!ids.length) return FALSE;
        sql = ids.length === 1 ? `${value.sql} = ${this.bind(ids[0])}::uuid` : `${value.sql} = ANY(${this.bind(ids)}::uuid[])`;
      } else {
        if (!texts.length) return FALSE;
        sql = texts.length === 1 ? `${value.sql} = ${this.bind(texts[0])}::text` : `${value.sql} = ANY(${this.bind(texts)}::text[])`;
      }
    } else if (value.type === 'number') {
      const numbers = (same as number[]).filter((v) => Number.isFinite(v));
      if (!numbers.length) return FALSE;
      sql = `${value.sql} = ANY(${this.bind(numbers.map(String))}::numeric[])`;
    } else {
      if (!same.length) return FALSE;
      sql = `${value.sql} = ANY(${this.bind(same)}::boolean[])`;
    }
    return value.nullAs === 'never' ? `(${sql})` : `COALESCE(${sql}, FALSE)`;
  }

  private exists(node: Node, element?: Val): string {
    const want = node.value === true;
    const field = node.field!;
    if (field === ITSELF) return TRUE;
    if (element) throw new Untranslatable('field conditions inside $elemMatch on strings');
    const [parent, key] = this.parent(field);
    const collects = (parent.k === 'array' || parent.k === 'empty') && !isNumericKey(key);
    if (collects) {
      if (key === 'length' || inherited(key)) throw new Untranslatable(`$exists on the key "${key}" of strings`);
      // No string has the key as its own: true for each element when asking for its absence.
      return want || parent.k === 'empty' ? FALSE : `(cardinality(${parent.sql}) > 0)`;
    }
    switch (parent.k) {
      case 'root':
        return (key in this.attributes) === want ? TRUE : FALSE;
      case 'object':
        return want ? `(${parent.sql} ? ${this.bind(key)}::text)` : `(NOT (${parent.sql} ? ${this.bind(key)}::text))`;
      case 'array':
        if (!INDEX.test(key)) return want ? FALSE : TRUE;
        return want ? `(cardinality(${parent.sql}) > ${Number(key)})` : `(cardinality(${parent.sql}) <= ${Number(key)})`;
      case 'empty':
        return want ? FALSE : TRUE;
      case 'scalar':
        // Strings own their indexes and length; other keys they lack, as null does.
        if (isNumericKey(key) || inherited(key)) throw new Untranslatable(`$exists on the key "${key}" of a scalar`);
        return want ? FALSE : TRUE;
      default:
        return want ? FALSE : TRUE;
    }
  }

  private size(node: Node, element?: Val): string {
    const field = node.field!;
    if (field === ITSELF) return FALSE;
    if (element) throw new Untranslatable('field conditions inside $elemMatch on strings');
    const [parent, key] = this.parent(field);
    if ((parent.k === 'array' || parent.k === 'empty') && !isNumericKey(key)) return FALSE;
    const value = this.single(parent, key);
    if (value.k !== 'array') return FALSE;
    const n = node.value as number;
    return Number.isInteger(n) ? `(cardinality(${value.sql}) = ${this.bind(n)}::int)` : FALSE;
  }

  private all(node: Node, element?: Val): string {
    const value = this.full(node.field!, element);
    const wanted = node.value as unknown[];
    if (value.k === 'empty') return wanted.length === 0 ? TRUE : FALSE;
    if (value.k !== 'array') return FALSE;
    if (!wanted.every((v) => typeof v === 'string' && !v.includes('\u0000'))) return FALSE;
    return `(${value.sql} @> ${this.bind(wanted)}::text[])`;
  }

  private elemMatch(node: Node, positive: boolean, element?: Val): string {
    const value = this.full(node.field!, element);
    if (value.k !== 'array') return FALSE;
    const alias = `el${this.aliases++}`;
    const inner: Val = { k: 'scalar', type: 'text', sql: `${alias}.v`, nullAs: 'never' };
    return `EXISTS (SELECT 1 FROM unnest(${value.sql}) AS ${alias}(v) WHERE ${this.node(node.value as Node, positive, inner)})`;
  }

  /** ucast applies these to each element of an array, else to the value. */
  private unwrapped(value: Val, op: (value: Val) => string): string {
    switch (value.k) {
      case 'array': {
        const alias = `el${this.aliases++}`;
        return `EXISTS (SELECT 1 FROM unnest(${value.sql}) AS ${alias}(v) WHERE ${op({ k: 'scalar', type: 'text', sql: `${alias}.v`, nullAs: 'never' })})`;
      }
      case 'empty':
        return FALSE;
      default:
        return op(value);
    }
  }

  /** lt, lte, gt, gte, in, regex on one value that is not an array. */
  private scalarOp(operator: string, value: Val, v: unknown): string {
    const js = SCALAR_OPS[operator]!;
    if (value.k === 'undef') return js(undefined, v) ? TRUE : FALSE;
    if (value.k === 'object') return js({}, v) ? TRUE : FALSE;
    if (value.k !== 'scalar') return FALSE;
    const typed = this.typedOp(operator, value, v);
    if (value.nullAs === 'never') return typed;
    const ifNull = js(value.nullAs === 'null' ? null : undefined, v) ? TRUE : FALSE;
    return `(CASE WHEN ${value.sql} IS NULL THEN ${ifNull} ELSE ${typed} END)`;
  }

  /** The operator on a non-null value of the scalar's type. */
  private typedOp(operator: string, value: Extract<Val, { k: 'scalar' }>, v: unknown): string {
    const text = value.uuid ? `${value.sql}::text` : value.sql;
    if (operator === 'in') return this.scalarEquals({ ...value, nullAs: 'never' }, v as unknown[]);
    if (operator === 'regex') {
      if (value.type !== 'text') return FALSE;
      const { pattern, caseInsensitive, guard } = regexToPostgres(v as RegExp);
      // An astral character is two UTF-16 units to JavaScript and one code point to PostgreSQL: where the
      // pattern could match a lone unit, the value is matched with each astral character as two stand-ins.
      const subject = guard ? `regexp_replace(${text}, ${this.bind(ASTRAL)}::text, ${this.bind(SURROGATE_STANDINS)}::text, 'g')` : text;
      return `((${subject} COLLATE "C") ${caseInsensitive ? '~*' : '~'} ${this.bind(pattern)}::text)`;
    }
    const sqlOperator = SQL_COMPARE[operator]!;
    if (value.type === 'text' && typeof v === 'string') {
      if (v.includes('\u0000') || HIGH.test(v)) throw new Untranslatable('a comparison with characters above U+E000 or NUL');
      return `((${text} COLLATE "C") ${sqlOperator} ${this.bind(v)}::text)`;
    }
    if (value.type === 'number' && typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Untranslatable('a comparison with a non-finite number');
      return `(${value.sql} ${sqlOperator} ${this.bind(String(v))}::numeric)`;
    }
    throw new Untranslatable(`a ${operator} comparison of a ${value.type} with a ${typeof v}`);
  }
}

/** A binder for a TypeORM query builder: named parameters `:vis0`, `:vis1`, ... set on it. */
export function queryBuilderBinder(qb: { setParameter(key: string, value: unknown): unknown }, prefix = 'vis'): Bind {
  let n = 0;
  return (value) => {
    const name = `${prefix}${n++}`;
    qb.setParameter(name, value);
    return `:${name}`;
  };
}
