//! JSON, as much as the lab needs: writing a string literal, and reading a `lab.json` back
//! (`hb_lab grade` reads a student's). Objects keep their keys in order. No dependency: the
//! lab's package stays as small as the port's.

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true`, `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Value>),
    /// An object, keys in order.
    Obj(Vec<(String, Value)>),
}

impl Value {
    /// The member `k` of an object.
    pub fn get(&self, k: &str) -> Option<&Value> {
        match self {
            Value::Obj(m) => m.iter().find(|(key, _)| key == k).map(|(_, v)| v),
            _ => None,
        }
    }
    /// A number.
    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
    /// A string.
    pub fn str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o += "\\\"",
            '\\' => o += "\\\\",
            c if (c as u32) < 0x20 => o += &format!("\\u{:04x}", c as u32),
            c => o.push(c),
        }
    }
    o + "\""
}

/// Parse a JSON text.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        t: text,
        b: text.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.b.len() {
        return Err(format!("trailing text at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    /// The text, and its bytes; `i` is always at a character boundary.
    t: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.i)
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected '{}'", c as char)))
        }
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Obj(m));
                }
                loop {
                    self.ws();
                    let Value::Str(k) = self.value()? else {
                        return Err(self.err("expected a key"));
                    };
                    self.eat(b':')?;
                    m.push((k, self.value()?));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(m));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(a));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut s = String::new();
                loop {
                    let c = self.t[self.i..]
                        .chars()
                        .next()
                        .ok_or_else(|| self.err("unterminated string"))?;
                    self.i += c.len_utf8();
                    match c {
                        '"' => return Ok(Value::Str(s)),
                        '\\' => {
                            let e = *self.b.get(self.i).ok_or_else(|| self.err("bad escape"))?;
                            self.i += 1;
                            match e {
                                b'n' => s.push('\n'),
                                b't' => s.push('\t'),
                                b'r' => s.push('\r'),
                                b'b' => s.push('\u{8}'),
                                b'f' => s.push('\u{c}'),
                                b'u' => {
                                    let hex = self
                                        .b
                                        .get(self.i..self.i + 4)
                                        .and_then(|h| std::str::from_utf8(h).ok())
                                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                                        .ok_or_else(|| self.err("bad \\u escape"))?;
                                    self.i += 4;
                                    s.push(char::from_u32(hex).unwrap_or('\u{fffd}'));
                                }
                                b'"' | b'\\' | b'/' => s.push(e as char),
                                _ => return Err(self.err("bad escape")),
                            }
                        }
                        c => s.push(c),
                    }
                }
            }
            Some(b't') if self.b[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.b[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            Some(b'n') if self.b[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Value::Null)
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| b"+-.eE".contains(c) || c.is_ascii_digit())
                {
                    self.i += 1;
                }
                std::str::from_utf8(&self.b[start..self.i])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Value::Num)
                    .ok_or_else(|| self.err("bad number"))
            }
            _ => Err(self.err("expected a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_lab_writes_and_refuses_broken_text() {
        let v =
            parse(r#"[{"a": 1.5, "b": [0, 2.5], "c": null, "d": "x \"y\" \u00e9", "e": true}]"#)
                .unwrap();
        let Value::Arr(rows) = &v else { panic!() };
        assert_eq!(rows[0].get("a"), Some(&Value::Num(1.5)));
        assert_eq!(
            rows[0].get("b"),
            Some(&Value::Arr(vec![Value::Num(0.0), Value::Num(2.5)]))
        );
        assert_eq!(rows[0].get("d").and_then(Value::str), Some("x \"y\" é"));
        assert_eq!(
            parse(&json_str("a\"b\\c\n")),
            Ok(Value::Str("a\"b\\c\n".into()))
        );
        assert_eq!(
            parse(r#""a\bb\fc\/""#),
            Ok(Value::Str("a\u{8}b\u{c}c/".into()))
        );
        for bad in ["[1,", "{\"a\" 1}", "[1] x", "\"open", "{1: 2}", r#""\q""#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// A string is read in one pass: a 1 MB one takes well under a second (each character
    /// used to re-check the rest of the text, 0.85 s for 123 KB in a debug build).
    #[test]
    fn a_long_string_is_read_in_one_pass() {
        let long = format!("\"{}\"", "é".repeat(500_000));
        let t = std::time::Instant::now();
        assert!(matches!(parse(&long), Ok(Value::Str(s)) if s.len() == 1_000_000));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
