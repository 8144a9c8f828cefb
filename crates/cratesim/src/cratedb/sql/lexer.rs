//! A small tokenizer for CrateDB SQL (docs/cratedb-behaviour.md#identifiers-and-literals).
//!
//! Hand-written because `sqlparser` does not know CrateDB's dialect (`SET GLOBAL`, `ALTER
//! CLUSTER DECOMMISSION`, subscripts, `RESTORE SNAPSHOT`, object literals). Unquoted
//! identifiers are folded to lower case; `"quoted"` ones keep their case (`""` escapes `"`);
//! strings use `'…'` with `''`; `?` and `$n` are parameters; `--` and `/* */` are comments.

use super::error::SqlError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Identifier or keyword; `quoted` ones are never keywords.
    Ident {
        text: String,
        quoted: bool,
    },
    Str(String),
    /// Number literal text.
    Num(String),
    /// `?` (None) or `$n` (Some(n), 1-based).
    Param(Option<usize>),
    /// Punctuation and operators: `( ) [ ] { } , . ; = != <> < <= > >= * + - / % ::`.
    Sym(&'static str),
    Eof,
}

/// A token and where it starts (1-based line and column, as in CrateDB's messages).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) line: usize,
    pub(crate) col: usize,
    /// The source text as written (messages echo it with its original case).
    pub(crate) raw: String,
}

impl Token {
    /// The token as CrateDB quotes it in "mismatched input" messages.
    pub(crate) fn text(&self) -> String {
        match &self.tok {
            Tok::Ident { .. } | Tok::Num(_) => self.raw.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Param(None) => "?".to_string(),
            Tok::Param(Some(n)) => format!("${n}"),
            Tok::Sym(s) => (*s).to_string(),
            Tok::Eof => "<EOF>".to_string(),
        }
    }

    /// An unquoted identifier equal (case-insensitively) to `kw`.
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.tok, Tok::Ident { text, quoted: false } if text.eq_ignore_ascii_case(kw))
    }
}

const SYMBOLS: &[&str] = &[
    "::", "!=", "<>", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ";", "=", "<", ">", "*", "+", "-",
    "/", "%",
];

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    line_start: usize,
}

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SqlError> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        line_start: 0,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_blank();
        let (line, col) = (lx.line, lx.pos - lx.line_start + 1);
        let Some(c) = lx.peek(0) else {
            out.push(Token {
                tok: Tok::Eof,
                line,
                col,
                raw: String::new(),
            });
            return Ok(out);
        };
        let start = lx.pos;
        let tok = lx.next_token(c)?;
        let raw = lx.chars[start..lx.pos].iter().collect();
        out.push(Token { tok, line, col, raw });
    }
}

impl Lexer {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.line_start = self.pos;
        }
        Some(c)
    }

    fn skip_blank(&mut self) {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('-'), Some('-')) => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    self.bump();
                    self.bump();
                    while self.peek(0).is_some() && !(self.peek(0) == Some('*') && self.peek(1) == Some('/'))
                    {
                        self.bump();
                    }
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn error(&self, what: &str) -> SqlError {
        SqlError::parse(&format!(
            "line {}:{}: {what}",
            self.line,
            self.pos - self.line_start + 1
        ))
    }

    fn next_token(&mut self, c: char) -> Result<Tok, SqlError> {
        if c == '\'' {
            return self.quoted('\'').map(Tok::Str);
        }
        if c == '"' {
            return self.quoted('"').map(|text| Tok::Ident { text, quoted: true });
        }
        if c == '?' {
            self.bump();
            return Ok(Tok::Param(None));
        }
        if c == '$' && self.peek(1).is_some_and(|d| d.is_ascii_digit()) {
            self.bump();
            let digits = self.take_while(|d| d.is_ascii_digit());
            return digits
                .parse()
                .map(|n| Tok::Param(Some(n)))
                .map_err(|_| self.error("bad parameter"));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            return Ok(Tok::Num(self.number()));
        }
        if c.is_alphabetic() || c == '_' {
            let text = self.take_while(|d| d.is_alphanumeric() || d == '_' || d == '@');
            return Ok(Tok::Ident {
                text: text.to_lowercase(),
                quoted: false,
            });
        }
        for sym in SYMBOLS {
            if sym.chars().enumerate().all(|(k, s)| self.peek(k) == Some(s)) {
                for _ in 0..sym.len() {
                    self.bump();
                }
                return Ok(Tok::Sym(sym));
            }
        }
        Err(self.error(&format!("token recognition error at: '{c}'")))
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0).filter(|c| f(*c)) {
            s.push(c);
            self.bump();
        }
        s
    }

    fn number(&mut self) -> String {
        let mut s = self.take_while(|d| d.is_ascii_digit());
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|d| d.is_ascii_digit()) {
            self.bump();
            s.push('.');
            s.push_str(&self.take_while(|d| d.is_ascii_digit()));
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            s.push('e');
            self.bump();
            if let Some(sign) = self.peek(0).filter(|c| *c == '-' || *c == '+') {
                s.push(sign);
                self.bump();
            }
            s.push_str(&self.take_while(|d| d.is_ascii_digit()));
        }
        s
    }

    /// A `'…'` string or `"…"` identifier; a doubled quote stands for itself.
    fn quoted(&mut self, q: char) -> Result<String, SqlError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("mismatched input '<EOF>'")),
                Some(c) if c == q && self.peek(0) == Some(q) => {
                    self.bump();
                    s.push(q);
                }
                Some(c) if c == q => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn basics() {
        assert_eq!(
            toks("SELECT node['name'] FROM \"Sys\".x WHERE a != $2 -- c\n AND b = ?"),
            vec![
                Tok::Ident {
                    text: "select".into(),
                    quoted: false
                },
                Tok::Ident {
                    text: "node".into(),
                    quoted: false
                },
                Tok::Sym("["),
                Tok::Str("name".into()),
                Tok::Sym("]"),
                Tok::Ident {
                    text: "from".into(),
                    quoted: false
                },
                Tok::Ident {
                    text: "Sys".into(),
                    quoted: true
                },
                Tok::Sym("."),
                Tok::Ident {
                    text: "x".into(),
                    quoted: false
                },
                Tok::Ident {
                    text: "where".into(),
                    quoted: false
                },
                Tok::Ident {
                    text: "a".into(),
                    quoted: false
                },
                Tok::Sym("!="),
                Tok::Param(Some(2)),
                Tok::Ident {
                    text: "and".into(),
                    quoted: false
                },
                Tok::Ident {
                    text: "b".into(),
                    quoted: false
                },
                Tok::Sym("="),
                Tok::Param(None),
                Tok::Eof,
            ]
        );
        assert_eq!(toks("'it''s'"), vec![Tok::Str("it's".into()), Tok::Eof]);
        assert_eq!(toks("1.5e3"), vec![Tok::Num("1.5e3".into()), Tok::Eof]);
    }

    #[test]
    fn errors_carry_positions() {
        let e = tokenize("SELECT 'abc").unwrap_err();
        assert!(e.message.starts_with("line 1:"), "{}", e.message);
        assert!(tokenize("SELECT #").is_err());
    }
}
