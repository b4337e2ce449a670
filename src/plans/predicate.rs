//! Reading the conditions EXPLAIN prints (`Filter`, `Index Cond`, `Hash Cond`...).
//!
//! These strings come from PostgreSQL's deparser (ruleutils.c), a regular format: every operator
//! application is parenthesized, columns are `alias.column` under VERBOSE, casts are
//! `expr::type`. This parser reads that format into a small tree; anything it does not know
//! becomes [`Expr::Opaque`], so rules skip it instead of guessing.

use super::ident::quote_ident;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column {
        qualifier: Option<String>,
        name: String,
    },
    Param(i32),
    /// A literal, number, TRUE/FALSE/NULL, as written.
    Constant(String),
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Cast {
        expr: Box<Expr>,
        to: String,
    },
    Op {
        op: String,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Opaque(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Param(i32),
    Literal(String),
    Number(String),
    Op(String),
    Cast,
    Open,
    Close,
    Comma,
    Dot,
    OpenBracket,
    CloseBracket,
}

fn lex(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => (out.push(Tok::Open), i += 1).1,
            ')' => (out.push(Tok::Close), i += 1).1,
            ',' => (out.push(Tok::Comma), i += 1).1,
            '[' => (out.push(Tok::OpenBracket), i += 1).1,
            ']' => (out.push(Tok::CloseBracket), i += 1).1,
            '.' if !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                (out.push(Tok::Dot), i += 1).1
            }
            ':' if chars.get(i + 1) == Some(&':') => (out.push(Tok::Cast), i += 2).1,
            '\'' => {
                let start = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                        Some('\'') => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                out.push(Tok::Literal(chars[start..i].iter().collect()));
            }
            '"' => {
                let mut name = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('"') if chars.get(i + 1) == Some(&'"') => (name.push('"'), i += 2).1,
                        Some('"') => break,
                        Some(ch) => (name.push(*ch), i += 1).1,
                    }
                }
                i += 1;
                out.push(Tok::Quoted(name));
            }
            '$' => {
                let start = i + 1;
                i += 1;
                while chars.get(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
                out.push(Tok::Param(
                    chars[start..i].iter().collect::<String>().parse().ok()?,
                ));
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.' || *d == 'e')
                {
                    i += 1;
                }
                out.push(Tok::Number(chars[start..i].iter().collect()));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '$')
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            c if "+-*/<>=~!@#%^&|`?".contains(c) => {
                let start = i;
                while chars
                    .get(i)
                    .is_some_and(|d| "+-*/<>=~!@#%^&|`?".contains(*d))
                {
                    i += 1;
                }
                out.push(Tok::Op(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn is_word(tok: Option<&Tok>, word: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, tok: Tok) -> Option<()> {
        (self.next()? == tok).then_some(())
    }

    /// `a AND b AND c`, `a OR b`, or a chain of operators (left to right: the deparser
    /// parenthesizes every nested application, so there is no precedence to resolve).
    fn expr(&mut self) -> Option<Expr> {
        let first = self.operators()?;
        for (word, make) in [
            ("and", Expr::And as fn(Vec<Expr>) -> Expr),
            ("or", Expr::Or),
        ] {
            if is_word(self.peek(), word) {
                let mut items = vec![first];
                while is_word(self.peek(), word) {
                    self.next();
                    items.push(self.operators()?);
                }
                return Some(make(items));
            }
        }
        Some(first)
    }

    fn operators(&mut self) -> Option<Expr> {
        let mut left = self.postfix()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op)) => op.clone(),
                Some(Tok::Word(w))
                    if ["like", "ilike"].contains(&w.to_ascii_lowercase().as_str()) =>
                {
                    w.to_ascii_uppercase()
                }
                _ => return Some(left),
            };
            self.next();
            let right = self.postfix()?;
            left = Expr::Op {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
    }

    fn postfix(&mut self) -> Option<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.peek() == Some(&Tok::Cast) {
                self.next();
                e = Expr::Cast {
                    expr: Box::new(e),
                    to: self.type_name()?,
                };
            } else if is_word(self.peek(), "is") {
                self.next();
                let negated = is_word(self.peek(), "not");
                if negated {
                    self.next();
                }
                if !is_word(self.next().as_ref(), "null") {
                    return None;
                }
                e = Expr::IsNull {
                    expr: Box::new(e),
                    negated,
                };
            } else {
                return Some(e);
            }
        }
    }

    /// A type after `::`: words (`character varying`), `(n)` modifiers and `[]`.
    fn type_name(&mut self) -> Option<String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some(Tok::Word(w))
                    if !["and", "or", "is", "not", "like", "ilike"]
                        .contains(&w.to_ascii_lowercase().as_str()) =>
                {
                    if !out.is_empty() && !out.ends_with('.') {
                        out.push(' ');
                    }
                    out.push_str(w);
                    self.next();
                }
                Some(Tok::Quoted(w)) => {
                    out.push_str(&format!("\"{w}\""));
                    self.next();
                }
                Some(Tok::Dot) => (out.push('.'), self.next()).1.map(|_| ())?,
                Some(Tok::OpenBracket) => {
                    self.next();
                    self.expect(Tok::CloseBracket)?;
                    out.push_str("[]");
                }
                Some(Tok::Open) if !out.is_empty() => {
                    self.next();
                    let mut depth = 1;
                    out.push('(');
                    while depth > 0 {
                        match self.next()? {
                            Tok::Open => (depth += 1, out.push('(')).1,
                            Tok::Close => (depth -= 1, out.push(')')).1,
                            Tok::Number(n) => out.push_str(&n),
                            Tok::Comma => out.push(','),
                            _ => return None,
                        }
                    }
                }
                _ => return (!out.is_empty()).then_some(out),
            }
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        match self.next()? {
            Tok::Open => {
                let e = self.expr()?;
                self.expect(Tok::Close)?;
                Some(e)
            }
            Tok::Param(n) => Some(Expr::Param(n)),
            Tok::Literal(l) => Some(Expr::Constant(l)),
            Tok::Number(n) => Some(Expr::Constant(n)),
            Tok::Op(op) if op == "-" => match self.next()? {
                Tok::Number(n) => Some(Expr::Constant(format!("-{n}"))),
                _ => None,
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                Some(Expr::Not(Box::new(self.postfix()?)))
            }
            Tok::Word(w)
                if ["true", "false", "null"].contains(&w.to_ascii_lowercase().as_str()) =>
            {
                Some(Expr::Constant(w.to_ascii_lowercase()))
            }
            Tok::Word(w) | Tok::Quoted(w) => self.name_or_call(w),
            _ => None,
        }
    }

    fn name_or_call(&mut self, first: String) -> Option<Expr> {
        if self.peek() == Some(&Tok::Open) {
            self.next();
            let mut args = Vec::new();
            if self.peek() != Some(&Tok::Close) {
                loop {
                    args.push(self.expr()?);
                    match self.next()? {
                        Tok::Comma => continue,
                        Tok::Close => break,
                        _ => return None,
                    }
                }
            } else {
                self.next();
            }
            return Some(Expr::Call { name: first, args });
        }
        if self.peek() == Some(&Tok::Dot) {
            self.next();
            let name = match self.next()? {
                Tok::Word(w) | Tok::Quoted(w) => w,
                _ => return None,
            };
            if self.peek() == Some(&Tok::Open) {
                // schema-qualified function
                return match self.name_or_call(name)? {
                    Expr::Call { name, args } => Some(Expr::Call {
                        name: format!("{first}.{name}"),
                        args,
                    }),
                    _ => None,
                };
            }
            return Some(Expr::Column {
                qualifier: Some(first),
                name,
            });
        }
        Some(Expr::Column {
            qualifier: None,
            name: first,
        })
    }
}

/// Parses one condition string. Never fails: what cannot be read is [`Expr::Opaque`].
pub fn parse(text: &str) -> Expr {
    let parsed = lex(text).and_then(|toks| {
        let mut p = Parser { toks, pos: 0 };
        let e = p.expr()?;
        (p.pos == p.toks.len()).then_some(e)
    });
    parsed.unwrap_or_else(|| Expr::Opaque(text.to_string()))
}

impl Expr {
    /// The top-level AND-ed parts.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(items) => items.iter().flat_map(|e| e.conjuncts()).collect(),
            other => vec![other],
        }
    }

    /// Columns referenced, as (qualifier, name).
    pub fn columns(&self) -> Vec<(Option<&str>, &str)> {
        let mut out = Vec::new();
        self.visit_columns(&mut out);
        out
    }

    fn visit_columns<'a>(&'a self, out: &mut Vec<(Option<&'a str>, &'a str)>) {
        match self {
            Expr::Column { qualifier, name } => out.push((qualifier.as_deref(), name)),
            Expr::Call { args, .. } => args.iter().for_each(|a| a.visit_columns(out)),
            Expr::Cast { expr, .. } | Expr::IsNull { expr, .. } | Expr::Not(expr) => {
                expr.visit_columns(out)
            }
            Expr::Op { left, right, .. } => {
                left.visit_columns(out);
                right.visit_columns(out);
            }
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|a| a.visit_columns(out)),
            Expr::Param(_) | Expr::Constant(_) | Expr::Opaque(_) => {}
        }
    }

    /// SQL text with columns unqualified, as an index definition needs it.
    pub fn to_index_sql(&self) -> String {
        match self {
            Expr::Column { name, .. } => quote_ident(name),
            Expr::Param(n) => format!("${n}"),
            Expr::Constant(c) => c.clone(),
            Expr::Call { name, args } => {
                format!(
                    "{name}({})",
                    args.iter()
                        .map(Expr::to_index_sql)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Expr::Cast { expr, to } => format!("({})::{to}", expr.to_index_sql()),
            Expr::Op { op, left, right } => {
                format!("({} {op} {})", left.to_index_sql(), right.to_index_sql())
            }
            Expr::IsNull { expr, negated } => {
                format!(
                    "({} IS {}NULL)",
                    expr.to_index_sql(),
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::Not(e) => format!("(NOT {})", e.to_index_sql()),
            Expr::And(items) | Expr::Or(items) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                format!(
                    "({})",
                    items
                        .iter()
                        .map(Expr::to_index_sql)
                        .collect::<Vec<_>>()
                        .join(sep)
                )
            }
            Expr::Opaque(t) => t.clone(),
        }
    }

    /// A bare column, looking through casts (`(o.status)::text`).
    pub fn as_column(&self) -> Option<(Option<&str>, &str)> {
        match self {
            Expr::Column { qualifier, name } => Some((qualifier.as_deref(), name)),
            Expr::Cast { expr, .. } => expr.as_column(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(q: &str, n: &str) -> Expr {
        Expr::Column {
            qualifier: Some(q.into()),
            name: n.into(),
        }
    }

    #[test]
    fn equality_on_a_column() {
        assert_eq!(
            parse("(orders.customer_id = $1)"),
            Expr::Op {
                op: "=".into(),
                left: Box::new(col("orders", "customer_id")),
                right: Box::new(Expr::Param(1))
            }
        );
    }

    #[test]
    fn conjunction_with_a_range_and_a_function() {
        let e = parse("((orders.status = $1) AND (orders.created_at > (now() - $2)))");
        let parts = e.conjuncts();
        assert_eq!(parts.len(), 2);
        let Expr::Op { op, left, right } = parts[1] else {
            panic!("{e:?}")
        };
        assert_eq!(op, ">");
        assert_eq!(left.as_column(), Some((Some("orders"), "created_at")));
        assert!(right.columns().is_empty());
    }

    #[test]
    fn expression_of_a_column_and_its_index_text() {
        let e = parse("(lower(customers.email) = lower((($1 || $2) || $3)))");
        let Expr::Op { left, right, .. } = &e else {
            panic!()
        };
        assert_eq!(left.to_index_sql(), "lower(email)");
        assert_eq!(left.columns(), vec![(Some("customers"), "email")]);
        assert!(right.columns().is_empty());
    }

    #[test]
    fn like_operator_casts_and_constants() {
        let e = parse("((p.name)::text ~~ 'lamp%'::text)");
        let Expr::Op { op, left, right } = &e else {
            panic!()
        };
        assert_eq!(op, "~~");
        assert_eq!(left.as_column(), Some((Some("p"), "name")));
        assert_eq!(
            **right,
            Expr::Cast {
                expr: Box::new(Expr::Constant("'lamp%'".into())),
                to: "text".into()
            }
        );
        let e = parse("((o.kind)::character varying = 'it''s'::character varying(20))");
        assert!(!matches!(e, Expr::Opaque(_)), "{e:?}");
    }

    #[test]
    fn join_condition_has_columns_on_both_sides() {
        let e = parse("(o.customer_id = c.id)");
        assert_eq!(
            e.columns(),
            vec![(Some("o"), "customer_id"), (Some("c"), "id")]
        );
    }

    #[test]
    fn null_tests_any_and_quoted_names() {
        let e = parse("((t.\"Deleted At\" IS NULL) AND (t.id = ANY ($1)))");
        assert_eq!(e.conjuncts().len(), 2);
        assert_eq!(e.columns()[0], (Some("t"), "Deleted At"));
        assert_eq!(e.conjuncts()[0].to_index_sql(), "(\"Deleted At\" IS NULL)");
    }

    #[test]
    fn unreadable_text_is_opaque_not_a_guess() {
        assert!(matches!(parse("(x = 'unterminated)"), Expr::Opaque(_)));
        assert!(matches!(parse("CASE WHEN a THEN b END"), Expr::Opaque(_)));
        assert!(matches!(parse("(a = b))"), Expr::Opaque(_)));
    }

    #[test]
    fn negative_numbers_and_or() {
        let e = parse("((t.a = -1) OR (t.b > 2.5))");
        let Expr::Or(items) = e else { panic!() };
        assert_eq!(items.len(), 2);
    }
}
