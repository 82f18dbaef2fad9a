//! A small regular-expression engine for path rules.
//!
//! A general-purpose regex crate costs the router module more than its
//! whole size budget allows (regex-lite: +68 KB of 250 KB), so path rules
//! use this subset, compiled once at configure time into a Thompson NFA and
//! run as a Pike VM: matching takes time linear in the path length times
//! the program size, whatever the pattern, so no pattern can make a request
//! slow (no backtracking). Patterns match bytes (a non-ASCII literal
//! matches its UTF-8 bytes; `.` matches one byte) and, like RE2's
//! `PartialMatch` and Envoy's `safe_regex` with `^...$`, match anywhere
//! unless anchored.
//!
//! | syntax | meaning |
//! |---|---|
//! | `a`, `\.`, `\/` | the byte itself (escape any punctuation) |
//! | `.` | any byte |
//! | `[a-z0-9_]`, `[^/]` | a set of bytes, or its complement; `\d \w \s` inside |
//! | `\d \w \s`, `\D \W \S` | ASCII digit, word byte, space; and complements |
//! | `^`, `$` | start, end of the path |
//! | `x*`, `x+`, `x?`, `x{n}`, `x{n,}`, `x{n,m}` | repetition (n, m ≤ 100) |
//! | `(x)`, `(?:x)`, `x\|y` | grouping, alternation |
//!
//! Anything else (lookaround, backreferences, named classes, flags) is
//! refused with the position and the reason.

const MAX_REPEAT: u32 = 100;
/// Largest compiled program, in instructions.
const MAX_PROGRAM: usize = 10_000;

/// A set of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);

    fn with(mut self, b: u8) -> Self {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
        self
    }

    fn range(mut self, lo: u8, hi: u8) -> Self {
        for b in lo..=hi {
            self = self.with(b);
        }
        self
    }

    fn union(self, other: ByteSet) -> Self {
        let mut out = self;
        for (o, x) in out.0.iter_mut().zip(other.0) {
            *o |= x;
        }
        out
    }

    fn not(self) -> Self {
        ByteSet(self.0.map(|w| !w))
    }

    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    fn any() -> Self {
        ByteSet::EMPTY.not()
    }

    fn digit() -> Self {
        ByteSet::EMPTY.range(b'0', b'9')
    }

    fn word() -> Self {
        ByteSet::digit()
            .range(b'a', b'z')
            .range(b'A', b'Z')
            .with(b'_')
    }

    fn space() -> Self {
        [b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c]
            .into_iter()
            .fold(ByteSet::EMPTY, ByteSet::with)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Set(ByteSet),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inst {
    Byte(ByteSet),
    Split(usize, usize),
    Jmp(usize),
    AssertStart,
    AssertEnd,
    Match,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Regex {
    source: String,
    program: Vec<Inst>,
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

struct Parser<'p> {
    bytes: &'p [u8],
    at: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, why: &str) -> Result<T, String> {
        Err(format!("at byte {}: {why}", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn alt(&mut self, depth: u32) -> Result<Node, String> {
        if depth > 32 {
            return self.fail("groups nested too deeply");
        }
        let mut branches = vec![self.concat(depth)?];
        while self.peek() == Some(b'|') {
            self.at += 1;
            branches.push(self.concat(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self, depth: u32) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom(depth)?;
            items.push(self.repeat(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn atom(&mut self, depth: u32) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return self.fail("unexpected end");
        };
        self.at += 1;
        Ok(match c {
            b'.' => Node::Set(ByteSet::any()),
            b'^' => Node::Start,
            b'$' => Node::End,
            b'[' => Node::Set(self.class()?),
            b'\\' => Node::Set(self.escape()?),
            b'(' => {
                if self.bytes[self.at..].starts_with(b"?:") {
                    self.at += 2;
                } else if self.peek() == Some(b'?') {
                    return self.fail("only (?:...) groups are supported");
                }
                let inner = self.alt(depth + 1)?;
                if self.peek() != Some(b')') {
                    return self.fail("missing )");
                }
                self.at += 1;
                inner
            }
            b'*' | b'+' | b'?' | b'{' => {
                self.at -= 1;
                return self.fail("nothing to repeat");
            }
            b')' => {
                self.at -= 1;
                return self.fail("unmatched )");
            }
            other => Node::Set(ByteSet::EMPTY.with(other)),
        })
    }

    /// After a `\`.
    fn escape(&mut self) -> Result<ByteSet, String> {
        let Some(c) = self.peek() else {
            return self.fail("\\ at the end");
        };
        self.at += 1;
        Ok(match c {
            b'd' => ByteSet::digit(),
            b'w' => ByteSet::word(),
            b's' => ByteSet::space(),
            b'D' => ByteSet::digit().not(),
            b'W' => ByteSet::word().not(),
            b'S' => ByteSet::space().not(),
            b'n' => ByteSet::EMPTY.with(b'\n'),
            b't' => ByteSet::EMPTY.with(b'\t'),
            c if c.is_ascii_punctuation() => ByteSet::EMPTY.with(c),
            _ => {
                self.at -= 1;
                return self.fail("unsupported escape");
            }
        })
    }

    /// After a `[`.
    fn class(&mut self) -> Result<ByteSet, String> {
        let negated = self.peek() == Some(b'^');
        if negated {
            self.at += 1;
        }
        let mut set = ByteSet::EMPTY;
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return self.fail("missing ]");
            };
            if c == b']' && !first {
                self.at += 1;
                break;
            }
            first = false;
            self.at += 1;
            let lo = match c {
                b'\\' => {
                    let e = self.escape()?;
                    if e.0.iter().map(|w| w.count_ones()).sum::<u32>() != 1 {
                        set = set.union(e);
                        continue;
                    }
                    (0..=255u8).find(|b| e.has(*b)).unwrap_or(0)
                }
                b'[' if self.peek() == Some(b':') => {
                    return self.fail("named classes like [:alpha:] are not supported")
                }
                c => c,
            };
            if self.peek() == Some(b'-') && self.bytes.get(self.at + 1).is_some_and(|&n| n != b']')
            {
                self.at += 1;
                let Some(hi) = self.peek() else {
                    return self.fail("missing ]");
                };
                self.at += 1;
                if hi == b'\\' || hi < lo {
                    return self.fail("bad range");
                }
                set = set.range(lo, hi);
            } else {
                set = set.with(lo);
            }
        }
        Ok(if negated { set.not() } else { set })
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    fn repeat(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') => {
                self.at += 1;
                let Some(min) = self.number() else {
                    return self.fail("expected a number in {}");
                };
                let max = if self.peek() == Some(b',') {
                    self.at += 1;
                    if self.peek() == Some(b'}') {
                        None
                    } else {
                        match self.number() {
                            Some(m) => Some(m),
                            None => return self.fail("expected a number in {}"),
                        }
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') {
                    return self.fail("missing }");
                }
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    return self.fail("repetition bounds must satisfy n <= m <= 100");
                }
                (min, max)
            }
            _ => return Ok(atom),
        };
        self.at += 1;
        if matches!(atom, Node::Start | Node::End) {
            return self.fail("an anchor cannot repeat");
        }
        if matches!(self.peek(), Some(b'*' | b'+' | b'?' | b'{')) {
            return self.fail("nested repetition needs a group");
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }
}

fn emit(node: &Node, prog: &mut Vec<Inst>) -> Result<(), String> {
    if prog.len() > MAX_PROGRAM {
        return Err(format!(
            "the pattern compiles to more than {MAX_PROGRAM} steps"
        ));
    }
    match node {
        Node::Set(s) => prog.push(Inst::Byte(*s)),
        Node::Start => prog.push(Inst::AssertStart),
        Node::End => prog.push(Inst::AssertEnd),
        Node::Concat(items) => {
            for n in items {
                emit(n, prog)?;
            }
        }
        Node::Alt(branches) => {
            // split L1, next; L1: a; jmp end; next: split L2, ...
            let mut jumps = Vec::new();
            for (i, b) in branches.iter().enumerate() {
                if i + 1 < branches.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(b, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                } else {
                    emit(b, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat(atom, min, max) => {
            for _ in 0..*min {
                let before = prog.len();
                emit(atom, prog)?;
                // An atom that compiles to nothing (`()`, `(a{0})`) repeats
                // to nothing: emitting it `min` times at every level of
                // nesting would take 100^depth steps, with no program growth
                // for the size limit to stop.
                if prog.len() == before {
                    break;
                }
            }
            match max {
                None => {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(atom, prog)?;
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        emit(atom, prog)?;
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

impl Regex {
    /// Compiles `pattern`; the error names the byte position and the
    /// problem.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut p = Parser {
            bytes: pattern.as_bytes(),
            at: 0,
        };
        let ast = p.alt(0)?;
        if p.at != p.bytes.len() {
            return p.fail("unmatched )");
        }
        let mut program = Vec::new();
        emit(&ast, &mut program)?;
        if program.len() > MAX_PROGRAM {
            return Err(format!(
                "the pattern compiles to more than {MAX_PROGRAM} steps"
            ));
        }
        program.push(Inst::Match);
        Ok(Regex {
            source: pattern.to_string(),
            program,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &[u8]) -> bool {
        let n = self.program.len();
        let mut current: Vec<usize> = Vec::with_capacity(n);
        let mut next: Vec<usize> = Vec::with_capacity(n);
        let mut seen = vec![usize::MAX; n];
        let mut stack = Vec::new();
        for at in 0..=text.len() {
            // A new thread starts at every position: an unanchored search.
            if self.add(&mut current, &mut seen, &mut stack, 0, at, text.len()) {
                return true;
            }
            let Some(&byte) = text.get(at) else {
                break;
            };
            next.clear();
            for &pc in &current {
                if let Inst::Byte(set) = self.program[pc] {
                    if set.has(byte)
                        && self.add(&mut next, &mut seen, &mut stack, pc + 1, at + 1, text.len())
                    {
                        return true;
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds the thread at `pc` and everything reachable from it without
    /// consuming a byte at position `at`; true if that reaches `Match`.
    /// `seen[pc] == at` marks states already in the list for this position.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        stack: &mut Vec<usize>,
        pc: usize,
        at: usize,
        len: usize,
    ) -> bool {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if seen[pc] == at {
                continue;
            }
            seen[pc] = at;
            match self.program[pc] {
                Inst::Byte(_) => list.push(pc),
                Inst::Match => return true,
                Inst::Jmp(to) => stack.push(to),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Inst::AssertStart if at == 0 => stack.push(pc + 1),
                Inst::AssertEnd if at == len => stack.push(pc + 1),
                Inst::AssertStart | Inst::AssertEnd => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests;
