//! What a template may cost. Tera cannot be stopped in the middle of a render, so the bounds are
//! put into the template itself before it runs:
//! - recursion: a macro that calls itself, directly or through others, is refused when parsed
//!   (nothing else in Tera recurses);
//! - loops: every `for` loop's items go through `__cf_items`, which counts them against the
//!   render's iteration budget (nested loops count in full) and checks the time budget;
//! - growth: every `set`/`set_global` value goes through `__cf_value`, which refuses a value
//!   larger than the output limit (a string doubled forty times stops at the first one too big);
//!   `replace` and `indent`, the two filters whose output can grow with the square of their
//!   input, check the size they would make before making it;
//! - output: [`super::Capped`] stops writing past the output limit.
//!
//! The budget lives in a thread-local for the length of one render ([`Running`]): Tera calls
//! functions on the rendering thread, and a parsed template is shared by many threads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tera::ast::{Expr, ExprVal, FunctionCall, Node};
use tera::Value;

/// Marks the errors the guard raises, so the caller can report them as limits.
pub(super) const MARK: &str = "template budget: ";

const ITEMS: &str = "__cf_items";
const VALUE: &str = "__cf_value";

/// Whether a Tera error line only says that one of the guard's wrapper calls failed (its cause
/// follows it in the chain).
pub(super) fn is_wrapper_failure(line: &str) -> bool {
    [ITEMS, VALUE].iter().any(|f| line == format!("Function call '{f}' failed"))
}

/// One render's allowance.
struct Budget {
    iterations_left: u64,
    iterations: u64,
    max_value_bytes: usize,
    deadline: Instant,
    time: Duration,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Installs a budget for renders on this thread until dropped.
pub(super) struct Running;

impl Running {
    pub(super) fn start(iterations: u64, max_value_bytes: usize, time: Duration) -> Running {
        let budget = Budget {
            iterations_left: iterations,
            iterations,
            max_value_bytes,
            deadline: Instant::now() + time,
            time,
        };
        BUDGET.with(|b| *b.borrow_mut() = Some(budget));
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        BUDGET.with(|b| *b.borrow_mut() = None);
    }
}

fn over(message: String) -> tera::Error {
    tera::Error::msg(format!("{MARK}{message}"))
}

/// Runs `f` on this render's budget; without one (a template rendered outside [`Running`]),
/// nothing is counted.
fn with_budget(f: impl FnOnce(&mut Budget) -> tera::Result<()>) -> tera::Result<()> {
    BUDGET.with(|b| match b.borrow_mut().as_mut() {
        Some(budget) => {
            if Instant::now() > budget.deadline {
                return Err(over(format!("rendering took longer than {:.1} s", budget.time.as_secs_f64())));
            }
            f(budget)
        }
        None => Ok(()),
    })
}

/// Approximate bytes a value holds (strings by length, containers by their parts).
fn size_of(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(size_of).sum::<usize>() + a.len(),
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + size_of(v)).sum::<usize>() + o.len(),
        _ => 8,
    }
}

fn items(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let items = args.get("items").cloned().unwrap_or(Value::Null);
    let n = match &items {
        Value::Array(a) => a.len() as u64,
        Value::Object(o) => o.len() as u64,
        Value::String(s) => s.chars().count() as u64,
        _ => 0,
    };
    with_budget(|b| {
        if n > b.iterations_left {
            return Err(over(format!("loops ran more than {} iterations in all", b.iterations)));
        }
        b.iterations_left -= n;
        Ok(())
    })?;
    Ok(items)
}

fn value(args: &HashMap<String, Value>) -> tera::Result<Value> {
    let value = args.get("value").cloned().unwrap_or(Value::Null);
    let name = args.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
    let size = size_of(&value);
    with_budget(|b| {
        if size > b.max_value_bytes {
            return Err(over(format!(
                "variable `{name}` grew to {size} bytes, past the limit of {}",
                b.max_value_bytes
            )));
        }
        Ok(())
    })?;
    Ok(value)
}

/// The size limit for filter output: the render's, or the default output limit outside one.
fn max_bytes() -> usize {
    BUDGET.with(|b| {
        b.borrow()
            .as_ref()
            .map_or(crate::limits::Limits::default().max_template_output, |b| b.max_value_bytes)
    })
}

fn string_arg(
    args: &HashMap<String, Value>,
    filter: &str,
    key: &str,
    default: Option<&str>,
) -> tera::Result<String> {
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => {
            Err(tera::Error::msg(format!("filter `{filter}`: `{key}` must be a string, got {other}")))
        }
        None => default
            .map(str::to_owned)
            .ok_or_else(|| tera::Error::msg(format!("filter `{filter}` expected an arg called `{key}`"))),
    }
}

/// Tera's `replace`, refusing an output larger than the limit before building it.
fn replace(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = value.as_str().ok_or_else(|| tera::Error::msg("filter `replace` needs a string"))?;
    let from = string_arg(args, "replace", "from", None)?;
    let to = string_arg(args, "replace", "to", None)?;
    if !from.is_empty() && to.len() > from.len() {
        let grown = s.matches(from.as_str()).count() * (to.len() - from.len());
        if s.len() + grown > max_bytes() {
            return Err(over(format!(
                "`replace` would make {} bytes, past the limit of {}",
                s.len() + grown,
                max_bytes()
            )));
        }
    }
    Ok(Value::String(s.replace(&from, &to)))
}

/// Tera's `indent(prefix="    ", first=false, blank=false)`, refusing an output larger than the
/// limit before building it.
fn indent(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = value.as_str().ok_or_else(|| tera::Error::msg("filter `indent` needs a string"))?;
    let prefix = string_arg(args, "indent", "prefix", Some("    "))?;
    let flag = |key: &str| args.get(key).and_then(Value::as_bool).unwrap_or(false);
    let (first, blank) = (flag("first"), flag("blank"));
    let size = s.len() + prefix.len() * (s.matches('\n').count() + 1);
    if size > max_bytes() {
        return Err(over(format!("`indent` would make {size} bytes, past the limit of {}", max_bytes())));
    }
    let mut out = String::with_capacity(size);
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if (i == 0 && first) || (i > 0 && (blank || !line.trim_start().is_empty())) {
            out.push_str(&prefix);
        }
        out.push_str(line);
    }
    Ok(Value::String(out))
}

/// Registers the guard's functions and filters.
pub(super) fn register(tera: &mut tera::Tera) {
    tera.register_function(ITEMS, items);
    tera.register_function(VALUE, value);
    tera.register_filter("replace", replace);
    tera.register_filter("indent", indent);
}

/// Refuses recursive macros and routes loops and assignments through the budget.
///
/// # Errors
/// The message naming a macro that calls itself (and through which).
pub(super) fn instrument(tera: &mut tera::Tera, name: &str) -> Result<(), String> {
    let Some(template) = tera.templates.get_mut(name) else { return Ok(()) };
    check_recursion(&template.macros)?;
    instrument_nodes(&mut template.ast);
    for m in template.macros.values_mut() {
        instrument_nodes(&mut m.body);
    }
    for defs in template.blocks_definitions.values_mut() {
        for (_, block) in defs {
            instrument_nodes(&mut block.body);
        }
    }
    Ok(())
}

fn call(function: &str, args: Vec<(&str, Expr)>) -> Expr {
    let args = args.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Expr::new(ExprVal::FunctionCall(FunctionCall { name: function.to_string(), args }))
}

fn placeholder() -> Expr {
    Expr::new(ExprVal::Bool(false))
}

fn instrument_nodes(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::Forloop(_, f, _) => {
                let container = std::mem::replace(&mut f.container, placeholder());
                f.container = call(ITEMS, vec![("items", container)]);
                instrument_nodes(&mut f.body);
                if let Some(body) = &mut f.empty_body {
                    instrument_nodes(body);
                }
            }
            Node::Set(_, s) => {
                let value = std::mem::replace(&mut s.value, placeholder());
                let name = Expr::new(ExprVal::String(s.key.clone()));
                s.value = call(VALUE, vec![("value", value), ("name", name)]);
            }
            Node::If(i, _) => {
                for (_, _, body) in &mut i.conditions {
                    instrument_nodes(body);
                }
                if let Some((_, body)) = &mut i.otherwise {
                    instrument_nodes(body);
                }
            }
            Node::FilterSection(_, f, _) => instrument_nodes(&mut f.body),
            Node::Block(_, b, _) => instrument_nodes(&mut b.body),
            Node::MacroDefinition(_, m, _) => instrument_nodes(&mut m.body),
            _ => {}
        }
    }
}

/// Fails when a macro can reach itself through macro calls.
fn check_recursion(macros: &HashMap<String, tera::ast::MacroDefinition>) -> Result<(), String> {
    let calls: HashMap<&str, Vec<String>> = macros
        .iter()
        .map(|(name, m)| {
            let mut out = Vec::new();
            calls_in_nodes(&m.body, &mut out);
            for e in m.args.values().flatten() {
                calls_in_expr(e, &mut out);
            }
            (name.as_str(), out)
        })
        .collect();
    let mut names: Vec<&str> = calls.keys().copied().collect();
    names.sort_unstable();
    for start in names {
        // Depth-first from `start`, looking for a way back to it.
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.to_string(), vec![start.to_string()])];
        let mut seen = std::collections::HashSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in calls.get(at.as_str()).into_iter().flatten() {
                if next == start {
                    let through = if path.len() > 1 {
                        format!(" (through `{}`)", path[1..].join("` → `"))
                    } else {
                        String::new()
                    };
                    return Err(format!(
                        "macro `{start}` calls itself{through}: recursive macros are not allowed"
                    ));
                }
                if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    Ok(())
}

fn calls_in_nodes(nodes: &[Node], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, e) => calls_in_expr(e, out),
            Node::Set(_, s) => calls_in_expr(&s.value, out),
            Node::Forloop(_, f, _) => {
                calls_in_expr(&f.container, out);
                calls_in_nodes(&f.body, out);
                if let Some(b) = &f.empty_body {
                    calls_in_nodes(b, out);
                }
            }
            Node::If(i, _) => {
                for (_, e, body) in &i.conditions {
                    calls_in_expr(e, out);
                    calls_in_nodes(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    calls_in_nodes(body, out);
                }
            }
            Node::FilterSection(_, f, _) => {
                f.filter.args.values().for_each(|e| calls_in_expr(e, out));
                calls_in_nodes(&f.body, out);
            }
            Node::Block(_, b, _) => calls_in_nodes(&b.body, out),
            Node::MacroDefinition(_, m, _) => calls_in_nodes(&m.body, out),
            _ => {}
        }
    }
}

fn calls_in_expr(e: &Expr, out: &mut Vec<String>) {
    for f in &e.filters {
        f.args.values().for_each(|a| calls_in_expr(a, out));
    }
    calls_in_val(&e.val, out);
}

fn calls_in_val(v: &ExprVal, out: &mut Vec<String>) {
    match v {
        ExprVal::MacroCall(m) => {
            out.push(m.name.clone());
            m.args.values().for_each(|a| calls_in_expr(a, out));
        }
        ExprVal::FunctionCall(f) => f.args.values().for_each(|a| calls_in_expr(a, out)),
        ExprVal::Math(m) => {
            calls_in_expr(&m.lhs, out);
            calls_in_expr(&m.rhs, out);
        }
        ExprVal::Logic(l) => {
            calls_in_expr(&l.lhs, out);
            calls_in_expr(&l.rhs, out);
        }
        ExprVal::In(i) => {
            calls_in_expr(&i.lhs, out);
            calls_in_expr(&i.rhs, out);
        }
        ExprVal::Test(t) => t.args.iter().for_each(|a| calls_in_expr(a, out)),
        ExprVal::Array(a) => a.iter().for_each(|e| calls_in_expr(e, out)),
        ExprVal::StringConcat(c) => c.values.iter().for_each(|v| calls_in_val(v, out)),
        ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) | ExprVal::Ident(_) => {}
    }
}
