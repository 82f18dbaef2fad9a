//! Arithmetic over a sweep cell's parameters: `overload * servers * 1000 /
//! service_ms`, `0.995 * (critical_share * overload <= 0.9)`.
//!
//! Numbers, names of earlier values, `+ - * /`, parentheses, the
//! comparisons `< <= > >= == !=` (1 if true, 0 if false, so a bound can be
//! switched off by multiplying), and `min(a, b, ...)` / `max(a, b, ...)`.
//! Precedence, loosest first: comparison, `+ -`, `* /`, unary minus.

use std::collections::BTreeMap;

/// A parameter's value in one cell: a number, or a word that only the
/// template uses (`exponential`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Text(String),
}

impl Value {
    /// As it is written into the scenario template.
    pub fn render(&self) -> String {
        match self {
            Value::Num(n) => format_number(*n),
            Value::Text(t) => t.clone(),
        }
    }
}

/// Shortest text that reads back as `n` (integers without a fraction).
pub fn format_number(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub type Vars = BTreeMap<String, Value>;

/// Evaluates `text` with `vars`; the error says what is wrong and where.
pub fn eval(text: &str, vars: &Vars) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens: &tokens,
        at: 0,
        vars,
    };
    let v = p.comparison()?;
    match p.tokens.get(p.at) {
        None => Ok(v),
        Some(t) => Err(format!("unexpected {t:?} in '{text}'")),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(f64),
    Name(String),
    Op(&'static str),
}

const OPS: [&str; 13] = [
    "<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",",
];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_ascii_digit() || c == '.' {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == 'e' || ch == 'E'))
                .unwrap_or(rest.len());
            let n: f64 = rest[..end]
                .parse()
                .map_err(|_| format!("'{}' is not a number in '{text}'", &rest[..end]))?;
            out.push(Token::Num(n));
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            out.push(Token::Name(rest[..end].to_string()));
            rest = &rest[end..];
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Token::Op(op));
            rest = &rest[op.len()..];
        } else {
            return Err(format!("unexpected '{c}' in '{text}'"));
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    vars: &'a Vars,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op() == Some(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected '{op}'"))
        }
    }

    fn comparison(&mut self) -> Result<f64, String> {
        let left = self.sum()?;
        let Some(op) = self
            .peek_op()
            .filter(|op| matches!(*op, "<" | "<=" | ">" | ">=" | "==" | "!="))
        else {
            return Ok(left);
        };
        self.at += 1;
        let right = self.sum()?;
        let holds = match op {
            "<" => left < right,
            "<=" => left <= right,
            ">" => left > right,
            ">=" => left >= right,
            "==" => left == right,
            _ => left != right,
        };
        Ok(if holds { 1.0 } else { 0.0 })
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut v = self.product()?;
        while let Some(op) = self.peek_op().filter(|op| matches!(*op, "+" | "-")) {
            self.at += 1;
            let r = self.product()?;
            v = if op == "+" { v + r } else { v - r };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        while let Some(op) = self.peek_op().filter(|op| matches!(*op, "*" | "/")) {
            self.at += 1;
            let r = self.unary()?;
            v = if op == "*" { v * r } else { v / r };
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<f64, String> {
        if self.peek_op() == Some("-") {
            self.at += 1;
            return Ok(-self.unary()?);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<f64, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Num(n)) => Ok(n),
            Some(Token::Op("(")) => {
                let v = self.comparison()?;
                self.expect(")")?;
                Ok(v)
            }
            Some(Token::Name(name)) if self.peek_op() == Some("(") => {
                self.at += 1;
                let mut args = vec![self.comparison()?];
                while self.peek_op() == Some(",") {
                    self.at += 1;
                    args.push(self.comparison()?);
                }
                self.expect(")")?;
                match name.as_str() {
                    "min" => Ok(args.into_iter().fold(f64::INFINITY, f64::min)),
                    "max" => Ok(args.into_iter().fold(f64::NEG_INFINITY, f64::max)),
                    _ => Err(format!("unknown function '{name}' (min and max are known)")),
                }
            }
            Some(Token::Name(name)) => match self.vars.get(&name) {
                Some(Value::Num(n)) => Ok(*n),
                Some(Value::Text(t)) => Err(format!("'{name}' is '{t}', not a number")),
                None => Err(format!("'{name}' is not defined here")),
            },
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the expression ends too early".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [
            ("servers".to_string(), Value::Num(8.0)),
            ("service_ms".to_string(), Value::Num(10.0)),
            ("dist".to_string(), Value::Text("exponential".into())),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn arithmetic_precedence_functions_and_comparisons() {
        let v = vars();
        assert_eq!(eval("servers * 1000 / service_ms", &v), Ok(800.0));
        assert_eq!(eval("1 + 2 * 3 - -1", &v), Ok(8.0));
        assert_eq!(eval("(1 + 2) * 3", &v), Ok(9.0));
        assert_eq!(eval("min(3, servers, 5) + max(1, 2)", &v), Ok(5.0));
        assert_eq!(eval("0.995 * (0.2 * 3 <= 0.9)", &v), Ok(0.995));
        assert_eq!(eval("0.995 * (0.4 * 3 <= 0.9)", &v), Ok(0.0));
        assert_eq!(eval("servers != 8", &v), Ok(0.0));
        assert_eq!(eval("1.5e3", &v), Ok(1500.0));
    }

    #[test]
    fn errors_name_the_problem() {
        let v = vars();
        for (text, needle) in [
            ("servers * ", "ends too early"),
            ("nodes * 2", "'nodes' is not defined"),
            ("dist * 2", "not a number"),
            ("avg(1, 2)", "unknown function"),
            ("1 $ 2", "unexpected '$'"),
            ("(1 + 2", "expected ')'"),
            ("1 2", "unexpected Num"),
        ] {
            let e = eval(text, &v).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn numbers_render_as_they_read() {
        assert_eq!(Value::Num(800.0).render(), "800");
        assert_eq!(Value::Num(0.25).render(), "0.25");
        assert_eq!(Value::Text("lognormal".into()).render(), "lognormal");
    }
}
