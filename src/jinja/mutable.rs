//! Python's mutable lists and dicts.
//!
//! dbt macros build results with `{% do cols.append(c) %}` and
//! `{% do cfg.update({...}) %}`: Jinja runs on Python, where `[]` and `{}`
//! are mutable and shared by reference. minijinja's literals are immutable,
//! so every list or dict literal written in a template is wrapped, before the
//! template is compiled, in a call that turns it into a shared mutable object
//! (`[1, 2]` becomes `__xf_list([1, 2])`). The rewrite never adds lines, so
//! line numbers in errors stay those of the file.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Jinja keywords after which `[` starts a list literal, not a subscript.
const KEYWORDS: &[&str] = &[
    "in",
    "and",
    "or",
    "not",
    "if",
    "else",
    "elif",
    "is",
    "set",
    "do",
    "for",
    "with",
    "return",
    "recursive",
    "import",
    "from",
    "as",
    "call",
    "filter",
    "print",
];

/// Wraps list and dict literals inside `{{ }}` and `{% %}` tags, and in
/// templates that handle dates turns `+`/`-` into calls (`arith`).
pub fn rewrite(src: &str) -> Cow<'_, str> {
    if !src.contains('[') && !src.contains('{') {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut i = 0;
    let mut changed = false;
    let mut in_raw = false;
    let arith = super::arith::needs_rewrite(src);
    while i < b.len() {
        if b[i] == b'{' && i + 1 < b.len() {
            let next = b[i + 1];
            if next == b'#' {
                let end = src[i + 2..].find("#}").map_or(src.len(), |e| i + 2 + e + 2);
                out.push_str(&src[i..end]);
                i = end;
                continue;
            }
            if next == b'{' || next == b'%' {
                let close = if next == b'{' { "}}" } else { "%}" };
                let (inner_end, tag_end) = find_tag_end(src, i + 2, close);
                let inner = &src[i + 2..inner_end];
                let trimmed = inner.trim_start_matches(['-', '+', ' ', '\t', '\n', '\r']);
                if next == b'%' {
                    if trimmed.starts_with("raw") {
                        in_raw = true;
                    } else if trimmed.starts_with("endraw") {
                        in_raw = false;
                    }
                }
                out.push_str(&src[i..i + 2]);
                if in_raw {
                    out.push_str(inner);
                } else {
                    let r = rewrite_expr(inner);
                    changed |= matches!(r, Cow::Owned(_));
                    if arith {
                        // Whitespace-control marks (`{{-`, `-}}`) are not operators.
                        let lead = usize::from(r.starts_with(['-', '+']));
                        let trail = usize::from(r.len() > lead && r.ends_with('-'));
                        let body = &r[lead..r.len() - trail];
                        let a = super::arith::rewrite_expr(body);
                        if let Cow::Owned(a) = a {
                            changed = true;
                            out.push_str(&r[..lead]);
                            out.push_str(&a);
                            out.push_str(&r[r.len() - trail..]);
                        } else {
                            out.push_str(&r);
                        }
                    } else {
                        out.push_str(&r);
                    }
                }
                out.push_str(&src[inner_end..tag_end]);
                i = tag_end;
                continue;
            }
        }
        // Copy plain text up to the next `{` (past the whole character at
        // `i`, which need not be ASCII).
        let from = i + src[i..].chars().next().map_or(1, char::len_utf8);
        let next = src[from..].find('{').map_or(src.len(), |n| from + n);
        out.push_str(&src[i..next]);
        i = next;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(src)
    }
}

/// `rewrite` for a lone expression (`compile_expression`), such as a test
/// argument written as `'{{ ... }}'`.
pub fn rewrite_expression(expr: &str) -> Cow<'_, str> {
    let r = rewrite_expr(expr);
    if !super::arith::needs_rewrite(expr) {
        return r;
    }
    match super::arith::rewrite_expr(&r) {
        Cow::Owned(a) => Cow::Owned(a),
        Cow::Borrowed(_) => r,
    }
}

/// End of a tag's inner text and of the whole tag, skipping strings.
fn find_tag_end(src: &str, from: usize, close: &str) -> (usize, usize) {
    let b = src.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'\'' || b[i] == b'"' {
                    quote = Some(b[i]);
                } else if b[i..].starts_with(close.as_bytes()) {
                    return (i, i + close.len());
                }
            }
        }
        i += 1;
    }
    (src.len(), src.len())
}

/// Rewrites literals in one tag's expression text.
fn rewrite_expr(expr: &str) -> Cow<'_, str> {
    if !expr.contains('[') && !expr.contains('{') {
        return Cow::Borrowed(expr);
    }
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 32);
    // For each open bracket: whether it was wrapped.
    let mut stack: Vec<bool> = Vec::new();
    // Whether the previous token ends a value (so `[` is a subscript).
    let mut after_value = false;
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&expr[start..i]);
                after_value = true;
                continue;
            }
            b'[' => {
                if after_value {
                    out.push('[');
                    stack.push(false);
                } else {
                    out.push_str("__xf_list([");
                    stack.push(true);
                    changed = true;
                }
                after_value = false;
            }
            b'{' => {
                out.push_str("__xf_dict({");
                stack.push(true);
                changed = true;
                after_value = false;
            }
            b']' | b'}' => {
                out.push(c as char);
                if stack.pop() == Some(true) {
                    out.push(')');
                }
                after_value = true;
            }
            b'(' => {
                out.push('(');
                stack.push(false);
                after_value = false;
            }
            b')' => {
                out.push(')');
                stack.pop();
                after_value = true;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &expr[start..i];
                out.push_str(word);
                after_value = !KEYWORDS.contains(&word);
                continue;
            }
            c if c.is_ascii_whitespace() => out.push(c as char),
            _ => {
                // Operators and punctuation: the next `[` starts a literal.
                let ch = expr[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
                after_value = false;
                continue;
            }
        }
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(expr)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A Python list: shared, mutable.
#[derive(Default)]
pub struct MutList(Mutex<Vec<Value>>);

impl fmt::Debug for MutList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(lock(&self.0).iter()).finish()
    }
}

/// `__xf_list(seq)`: a mutable copy of a list literal.
#[allow(clippy::needless_pass_by_value)] // minijinja passes function arguments by value
pub fn make_list(v: Value) -> Value {
    let items: Vec<Value> = v.try_iter().map(Iterator::collect).unwrap_or_default();
    Value::from_object(MutList(Mutex::new(items)))
}

/// `__xf_dict(map)`: a mutable copy of a dict literal.
#[allow(clippy::needless_pass_by_value)] // minijinja passes function arguments by value
pub fn make_dict(v: Value) -> Value {
    let mut m = IndexMap::new();
    if let Ok(keys) = v.try_iter() {
        for k in keys {
            let val = v.get_item(&k).unwrap_or_default();
            m.insert(k, val);
        }
    }
    Value::from_object(MutDict(Mutex::new(m)))
}

fn index(len: usize, i: i64) -> Option<usize> {
    let len_i = i64::try_from(len).ok()?;
    let idx = if i < 0 { len_i + i } else { i };
    (0..len_i)
        .contains(&idx)
        .then(|| usize::try_from(idx).ok())
        .flatten()
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        let i = key.as_i64()?;
        index(items.len(), i).map(|i| items[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !lock(&self.0).is_empty()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut items = lock(&self.0);
        match method {
            "append" => {
                items.push(arg(args, 0));
                Ok(Value::from(()))
            }
            "extend" => {
                if let Ok(it) = arg(args, 0).try_iter() {
                    items.extend(it);
                }
                Ok(Value::from(()))
            }
            "insert" => {
                let at = arg(args, 0).as_i64().unwrap_or(0);
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if at < 0 {
                    (len + at).max(0)
                } else {
                    at.min(len)
                };
                items.insert(usize::try_from(at).unwrap_or(0), arg(args, 1));
                Ok(Value::from(()))
            }
            "pop" => {
                let at = args.first().and_then(Value::as_i64).unwrap_or(-1);
                match index(items.len(), at) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop from empty list or index out of range",
                    )),
                }
            }
            "remove" => {
                let needle = arg(args, 0);
                match items.iter().position(|x| *x == needle) {
                    Some(i) => {
                        items.remove(i);
                        Ok(Value::from(()))
                    }
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "list.remove(x): x not in list",
                    )),
                }
            }
            "index" => {
                let needle = arg(args, 0);
                items
                    .iter()
                    .position(|x| *x == needle)
                    .map(Value::from)
                    .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "value is not in list"))
            }
            "count" => {
                let needle = arg(args, 0);
                Ok(Value::from(items.iter().filter(|x| **x == needle).count()))
            }
            "reverse" => {
                items.reverse();
                Ok(Value::from(()))
            }
            "clear" => {
                items.clear();
                Ok(Value::from(()))
            }
            "copy" => Ok(Value::from_object(MutList(Mutex::new(items.clone())))),
            "sort" => {
                items.sort();
                Ok(Value::from(()))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("list has no method `{method}`"),
            )),
        }
    }
}

/// A Python dict: shared, mutable, insertion-ordered.
#[derive(Default)]
pub struct MutDict(Mutex<IndexMap<Value, Value>>);

impl fmt::Debug for MutDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(lock(&self.0).iter()).finish()
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !lock(&self.0).is_empty()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kwargs = args.last().and_then(super::kwargs_of);
        let mut m = lock(&self.0);
        match method {
            "update" => {
                if let Some(other) = args.first().filter(|a| a.kind() == ValueKind::Map)
                    && let Ok(keys) = other.try_iter()
                {
                    for k in keys {
                        let v = other.get_item(&k).unwrap_or_default();
                        m.insert(k, v);
                    }
                }
                if let Some(kw) = kwargs {
                    for k in kw.args() {
                        if let Ok(v) = kw.get::<Value>(k) {
                            m.insert(Value::from(k), v);
                        }
                    }
                }
                Ok(Value::from(()))
            }
            "get" => Ok(m
                .get(&arg(args, 0))
                .cloned()
                .unwrap_or_else(|| arg(args, 1))),
            "pop" => {
                let k = arg(args, 0);
                match m.shift_remove(&k) {
                    Some(v) => Ok(v),
                    None if args.len() > 1 => Ok(arg(args, 1)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("key {k} not in dict"),
                    )),
                }
            }
            "setdefault" => {
                let k = arg(args, 0);
                Ok(m.entry(k).or_insert_with(|| arg(args, 1)).clone())
            }
            "keys" => Ok(Value::from(m.keys().cloned().collect::<Vec<_>>())),
            "values" => Ok(Value::from(m.values().cloned().collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                m.iter()
                    .map(|(k, v)| Value::from(vec![k.clone(), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "copy" => Ok(Value::from_object(MutDict(Mutex::new(m.clone())))),
            "clear" => {
                m.clear();
                Ok(Value::from(()))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("dict has no method `{method}`"),
            )),
        }
    }
}

/// A Python set: shared, mutable, unordered for comparison (`set(a) ==
/// set(b)` whatever the order), iterated in insertion order.
#[derive(Default)]
pub struct PySet(Mutex<Vec<Value>>);

impl fmt::Debug for PySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(lock(&self.0).iter()).finish()
    }
}

/// `set(iterable)`: the distinct items, in first-seen order.
pub fn make_set(v: Option<Value>) -> Value {
    let mut out: Vec<Value> = Vec::new();
    if let Some(v) = v
        && let Ok(iter) = v.try_iter()
    {
        for item in iter {
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    Value::from_object(PySet(Mutex::new(out)))
}

fn items_of(v: &Value) -> Vec<Value> {
    v.try_iter().map(Iterator::collect).unwrap_or_default()
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        let i = key.as_i64()?;
        index(items.len(), i).map(|i| items[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !lock(&self.0).is_empty()
    }

    /// Equal when both hold the same items; a proper subset is less.
    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<PySet>()?;
        let (a, b) = (lock(&self.0).clone(), lock(&other.0).clone());
        let a_in_b = a.iter().all(|x| b.contains(x));
        let b_in_a = b.iter().all(|x| a.contains(x));
        Some(match (a_in_b, b_in_a) {
            (true, true) => std::cmp::Ordering::Equal,
            (false, true) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Less,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut items = lock(&self.0);
        let others: Vec<Vec<Value>> = args.iter().map(items_of).collect();
        let new = |v: Vec<Value>| Value::from_object(PySet(Mutex::new(v)));
        match method {
            "add" => {
                let x = arg(args, 0);
                if !items.contains(&x) {
                    items.push(x);
                }
                Ok(Value::from(()))
            }
            "update" => {
                for x in others.into_iter().flatten() {
                    if !items.contains(&x) {
                        items.push(x);
                    }
                }
                Ok(Value::from(()))
            }
            "discard" | "remove" => {
                let x = arg(args, 0);
                match items.iter().position(|i| *i == x) {
                    Some(i) => {
                        items.remove(i);
                        Ok(Value::from(()))
                    }
                    None if method == "discard" => Ok(Value::from(())),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("set.remove(x): {x} not in set"),
                    )),
                }
            }
            "union" => {
                let mut out = items.clone();
                for x in others.into_iter().flatten() {
                    if !out.contains(&x) {
                        out.push(x);
                    }
                }
                Ok(new(out))
            }
            "intersection" => Ok(new(items
                .iter()
                .filter(|x| others.iter().all(|o| o.contains(x)))
                .cloned()
                .collect())),
            "difference" => Ok(new(items
                .iter()
                .filter(|x| !others.iter().any(|o| o.contains(x)))
                .cloned()
                .collect())),
            "symmetric_difference" => {
                let other = others.into_iter().next().unwrap_or_default();
                let mut out: Vec<Value> = items
                    .iter()
                    .filter(|x| !other.contains(x))
                    .cloned()
                    .collect();
                out.extend(other.iter().filter(|x| !items.contains(x)).cloned());
                Ok(new(out))
            }
            "issubset" => {
                let other = others.into_iter().next().unwrap_or_default();
                Ok(Value::from(items.iter().all(|x| other.contains(x))))
            }
            "issuperset" => {
                let other = others.into_iter().next().unwrap_or_default();
                Ok(Value::from(other.iter().all(|x| items.contains(x))))
            }
            "isdisjoint" => {
                let other = others.into_iter().next().unwrap_or_default();
                Ok(Value::from(!items.iter().any(|x| other.contains(x))))
            }
            "copy" => Ok(new(items.clone())),
            "clear" => {
                items.clear();
                Ok(Value::from(()))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("set has no method `{method}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_literals_not_subscripts() {
        assert_eq!(
            rewrite("{% set x = [] %}{{ x[0] }}{% for a in [1, [2]] %}{% endfor %}"),
            "{% set x = __xf_list([]) %}{{ x[0] }}{% for a in __xf_list([1, __xf_list([2])]) %}{% endfor %}"
        );
        assert_eq!(
            rewrite("{{ config(meta={'a': ['b']}) }} text [not] {x}"),
            "{{ config(meta=__xf_dict({'a': __xf_list(['b'])})) }} text [not] {x}"
        );
        assert_eq!(rewrite("{{ 'a[b]' ~ m['k'] }}"), "{{ 'a[b]' ~ m['k'] }}");
        assert!(matches!(rewrite("select 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn keeps_text_that_is_not_ascii() {
        assert_eq!(
            rewrite("'{% if e %}✅: {% endif %}ok' {{ [x] }}❌{{ {'é': 1} ~ ü }}"),
            "'{% if e %}✅: {% endif %}ok' {{ __xf_list([x]) }}❌{{ __xf_dict({'é': 1}) ~ ü }}"
        );
    }

    #[test]
    fn lists_and_dicts_mutate_in_place() {
        let mut env = minijinja::Environment::new();
        env.add_function("__xf_list", make_list);
        env.add_function("__xf_dict", make_dict);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        let src = rewrite(
            "{% set xs = [] %}{% do xs.append(1) %}{% do xs.extend([2, 3]) %}\
             {% set d = {} %}{% do d.update({'a': 1}) %}{{ xs | join(',') }} {{ xs | length }} {{ d.a }} {{ xs.pop() }}",
        )
        .into_owned();
        let out = env.render_str(&src, ()).unwrap();
        assert_eq!(out, "1,2,3 3 1 3");
    }

    #[test]
    fn sets_compare_without_order() {
        let mut env = minijinja::Environment::new();
        env.add_function("set", make_set);
        let out = env
            .render_str(
                "{{ set(['a', 'b', 'a']) == set(['b', 'a']) }} {{ set(['a']) != set(['a', 'c']) }} {{ set(['a', 'b']) | length }}",
                (),
            )
            .unwrap();
        assert_eq!(out, "True True 2");
    }
}
