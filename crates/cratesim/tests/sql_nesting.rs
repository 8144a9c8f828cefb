//! SQL nested deeper than the parser's limit, over HTTP `/_sql`: refused with the error CrateDB
//! gives a statement it cannot parse (`SQLParseException`, code 4000, HTTP 400), never a stack
//! overflow that takes the simulator down. Statements up to the limit are parsed and evaluated
//! as before, in every shape that nests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod sql_http;

use serde_json::{Value, json};

use cratesim::clock::Clock;
use cratesim::serve::Sim;

const PASSWORD: &str = "pw-alpha";
const POD: &str = "crate-data-hot-alpha-0";

fn sim() -> Sim {
    Sim::new(Clock::new(1.0), &[common::shape("alpha", false, PASSWORD)]).unwrap()
}

/// (status, error code, error message) of a statement that must fail.
async fn error_of(sim: &Sim, stmt: &str) -> (u16, Value, String) {
    let (status, body) = sql_http::sql_raw(sim, POD, PASSWORD, stmt, json!([])).await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default().to_string();
    (status, body["error"]["code"].clone(), message)
}

fn too_deep(message: &str) -> bool {
    message.starts_with("SQLParseException[line 1:")
        && message.contains("statement too deeply nested: more than 128 levels")
}

/// A way to nest: its name, and the statement nested that deep.
type Shape = (&'static str, Box<dyn Fn(usize) -> String>);

/// Every way a statement nests, as a function of how deep.
fn shapes() -> Vec<Shape> {
    vec![
        (
            "parentheses",
            Box::new(|n| format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n))),
        ),
        (
            "function calls",
            Box::new(|n| format!("SELECT {}-1{}", "abs(".repeat(n), ")".repeat(n))),
        ),
        (
            "array literals",
            Box::new(|n| format!("SELECT {}1{}", "[".repeat(n), "]".repeat(n))),
        ),
        (
            "object literals",
            Box::new(|n| format!("SELECT {}1{}", "{a=".repeat(n), "}".repeat(n))),
        ),
        ("NOT", Box::new(|n| format!("SELECT {}true", "NOT ".repeat(n)))),
        ("unary minus", Box::new(|n| format!("SELECT {}1", "- ".repeat(n)))),
        (
            "unary minus of parentheses",
            Box::new(|n| format!("SELECT {}1{}", "-(".repeat(n), ")".repeat(n))),
        ),
        (
            "a chain of +",
            Box::new(|n| format!("SELECT 1{}", " + 1".repeat(n))),
        ),
        (
            "a chain of *",
            Box::new(|n| format!("SELECT 1{}", " * 1".repeat(n))),
        ),
        (
            "a chain of AND",
            Box::new(|n| format!("SELECT true{}", " AND true".repeat(n))),
        ),
        (
            "a chain of OR",
            Box::new(|n| format!("SELECT false{}", " OR false".repeat(n))),
        ),
        (
            "a chain of casts",
            Box::new(|n| format!("SELECT 1{}", "::integer".repeat(n))),
        ),
        (
            "a chain of subscripts",
            Box::new(|n| format!("SELECT {{a=1}}{}", "['a']".repeat(n))),
        ),
        (
            "nested comparisons",
            Box::new(|n| format!("SELECT {}1{}", "1 = ANY([".repeat(n), "])".repeat(n))),
        ),
    ]
}

#[tokio::test]
async fn a_hundred_thousand_levels_are_a_parse_error_in_every_shape() {
    let sim = sim();
    for (shape, statement) in shapes() {
        let (status, code, message) = error_of(&sim, &statement(100_000)).await;
        assert_eq!((status, &code), (400, &json!(4000)), "{shape}: {message}");
        assert!(too_deep(&message), "{shape}: {message}");
    }
    // Nested type names: `array(array(…))`.
    let cast = format!(
        "SELECT []::{}integer{}",
        "array(".repeat(100_000),
        ")".repeat(100_000)
    );
    let (status, code, message) = error_of(&sim, &cast).await;
    assert_eq!((status, code), (400, json!(4000)), "{message}");
    assert!(too_deep(&message), "{message}");
    // The node still serves.
    let ok = sql_http::sql(&sim, POD, PASSWORD, "SELECT 1 + 1", json!([])).await;
    assert_eq!(ok["rows"][0][0], 2);
}

#[tokio::test]
async fn statements_up_to_the_limit_are_answered_in_every_shape() {
    let sim = sim();
    for (shape, statement) in shapes() {
        // Deeper and deeper until the limit refuses it: every statement before is parsed and
        // evaluated (the deepest ones are what the stack must hold).
        let mut depth = 1;
        loop {
            let stmt = statement(depth);
            let (status, body) = sql_http::sql_raw(&sim, POD, PASSWORD, &stmt, json!([])).await;
            if status == 400 {
                let body: Value = serde_json::from_str(&body).unwrap();
                let message = body["error"]["message"].as_str().unwrap();
                assert!(too_deep(message), "{shape} at {depth}: {message}");
                break;
            }
            assert_eq!(status, 200, "{shape} at {depth}: {body}");
            depth += 1;
            assert!(depth <= 128, "{shape}: still accepted at {depth} levels");
        }
        assert!(
            depth > 40,
            "{shape}: refused at only {depth} levels, a statement a client could write"
        );
    }
}

#[tokio::test]
async fn the_refusal_names_where_the_limit_was_passed() {
    let sim = sim();
    // 127 parentheses inside the select item's own level are the most there can be.
    let (status, body) = sql_http::sql_raw(
        &sim,
        POD,
        PASSWORD,
        &format!("SELECT {}7{}", "(".repeat(127), ")".repeat(127)),
        json!([]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, code, message) =
        error_of(&sim, &format!("SELECT {}7{}", "(".repeat(128), ")".repeat(128))).await;
    assert_eq!((status, code), (400, json!(4000)));
    assert_eq!(
        message,
        "SQLParseException[line 1:136: statement too deeply nested: more than 128 levels of \
         parentheses, function calls or operators (cratesim's limit)]"
    );
}
