//! Property tests for SQL quoting and the read-only classifier: quoted text can never end its
//! quotes early as far as the classifier is concerned, a second statement is always a write,
//! and nothing panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cratectl_core::sql::{StatementClass, classify, quote_ident, quote_literal};
use proptest::prelude::*;

fn sqlish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-zA-Z ;'"$()*/\-\n\\,E]{0,60}"#).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn classify_never_panics(text in any::<String>()) {
        let _ = classify(&text);
    }

    #[test]
    fn classify_never_panics_on_sqlish_text(text in sqlish()) {
        let _ = classify(&text);
    }

    /// Whatever a literal or identifier holds, it stays inside its quotes.
    #[test]
    fn quoted_text_is_opaque(value in any::<String>(), name in any::<String>()) {
        let stmt = format!("SELECT {} AS {} FROM t", quote_literal(&value), quote_ident(&name));
        prop_assert_eq!(classify(&stmt), StatementClass::ReadOnly, "{}", stmt);
    }

    #[test]
    fn quoted_sqlish_text_is_opaque(value in sqlish(), name in sqlish()) {
        let stmt = format!("select {} as {}", quote_literal(&value), quote_ident(&name));
        prop_assert_eq!(classify(&stmt), StatementClass::ReadOnly, "{}", stmt);
    }

    /// A second statement after a read-only one is always refused.
    #[test]
    fn second_statement_is_a_write(value in sqlish(), second in "[a-zA-Z][a-zA-Z ]{0,20}") {
        let stmt = format!("SELECT {}; {second}", quote_literal(&value));
        prop_assert!(!classify(&stmt).is_read_only(), "{}", stmt);
    }

    /// Quoting doubles the quote character and nothing else.
    #[test]
    fn quoting_round_trips(value in any::<String>()) {
        let literal = quote_literal(&value);
        let inner = &literal[1..literal.len() - 1];
        prop_assert_eq!(inner.replace("''", "'"), value.clone());
        let ident = quote_ident(&value);
        let inner = &ident[1..ident.len() - 1];
        prop_assert_eq!(inner.replace("\"\"", "\""), value);
    }
}
