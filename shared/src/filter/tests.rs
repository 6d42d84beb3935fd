use super::*;
use serde_json::json;

fn matches(filter: Value, input: Value) -> bool {
    compile(&filter)
        .unwrap_or_else(|e| panic!("{filter} does not compile: {e}"))
        .matches(&input)
}

/// A filter on the body alone, against a body.
fn body(filter: Value, body: Value) -> bool {
    matches(json!({ "body": filter }), json!({ "body": body }))
}

fn refused(filter: Value) -> String {
    compile(&filter).expect_err("filter compiled").to_string()
}

#[test]
fn plain_values_match_equal_values_and_nested_objects_field_by_field() {
    let hook = json!({"action": "opened", "n": 1, "pr": {"draft": false, "user": {"login": "a"}}});
    assert!(body(json!({"action": "opened"}), hook.clone()));
    assert!(!body(json!({"action": "closed"}), hook.clone()));
    assert!(body(json!({"n": 1.0}), hook.clone()), "1 equals 1.0");
    assert!(body(
        json!({"pr": {"draft": false, "user": {"login": "a"}}}),
        hook.clone()
    ));
    assert!(!body(json!({"pr": {"user": {"login": "b"}}}), hook.clone()));
    assert!(
        !body(json!({"missing": null}), hook.clone()),
        "absent is not null"
    );
    assert!(body(json!({}), hook), "an empty filter takes everything");
}

#[test]
fn eq_and_neq() {
    assert!(body(json!({"a": {"$eq": "x"}}), json!({"a": "x"})));
    assert!(!body(json!({"a": {"$eq": "x"}}), json!({"a": "y"})));
    assert!(body(
        json!({"a": {"$eq": {"b": 1}}}),
        json!({"a": {"b": 1}})
    ));
    assert!(
        !body(
            json!({"a": {"$eq": {"b": 1}}}),
            json!({"a": {"b": 1, "c": 2}})
        ),
        "$eq on an object is whole equality"
    );
    assert!(body(json!({"a": {"$neq": "x"}}), json!({"a": "y"})));
    assert!(!body(json!({"a": {"$neq": "x"}}), json!({"a": "x"})));
    assert!(
        body(json!({"a": {"$neq": "x"}}), json!({})),
        "a missing field is not equal"
    );
}

#[test]
fn in_and_nin_take_a_list_or_a_string() {
    assert!(body(json!({"a": {"$in": ["x", "y"]}}), json!({"a": "y"})));
    assert!(!body(json!({"a": {"$in": ["x", "y"]}}), json!({"a": "z"})));
    assert!(!body(json!({"a": {"$in": ["x"]}}), json!({})));
    assert!(body(
        json!({"a": {"$in": "opened,closed"}}),
        json!({"a": "closed"})
    ));
    assert!(body(json!({"a": {"$nin": ["x", "y"]}}), json!({"a": "z"})));
    assert!(!body(json!({"a": {"$nin": ["x", "y"]}}), json!({"a": "x"})));
    assert!(body(json!({"a": {"$nin": ["x"]}}), json!({})));
}

#[test]
fn comparisons_take_numbers_and_strings_like_with_like() {
    let hook = json!({"n": 5, "at": "2024-05-01"});
    for (op, bound, want) in [
        ("$gt", 4, true),
        ("$gt", 5, false),
        ("$gte", 5, true),
        ("$gte", 6, false),
        ("$lt", 6, true),
        ("$lt", 5, false),
        ("$lte", 5, true),
        ("$lte", 4, false),
    ] {
        assert_eq!(
            body(json!({"n": {op: bound}}), hook.clone()),
            want,
            "{op} {bound}"
        );
    }
    assert!(body(
        json!({"at": {"$gte": "2024-01-01", "$lt": "2025-01-01"}}),
        hook.clone()
    ));
    assert!(
        !body(json!({"n": {"$gt": "4"}}), hook.clone()),
        "a string bound does not compare a number"
    );
    assert!(!body(json!({"missing": {"$lt": 10}}), hook));
}

#[test]
fn exist_tells_present_from_absent() {
    let hook = json!({"a": null, "b": 0});
    assert!(
        body(json!({"a": {"$exist": true}}), hook.clone()),
        "null is present"
    );
    assert!(body(json!({"b": {"$exist": true}}), hook.clone()));
    assert!(!body(json!({"c": {"$exist": true}}), hook.clone()));
    assert!(body(json!({"c": {"$exist": false}}), hook.clone()));
    assert!(!body(json!({"b": {"$exist": false}}), hook.clone()));
    assert!(
        body(json!({"x": {"y": {"$exist": false}}}), hook),
        "under a missing parent"
    );
}

#[test]
fn string_operators() {
    let hook = json!({"ref": "refs/heads/main"});
    assert!(body(
        json!({"ref": {"$startsWith": "refs/heads/"}}),
        hook.clone()
    ));
    assert!(!body(
        json!({"ref": {"$startsWith": "refs/tags/"}}),
        hook.clone()
    ));
    assert!(body(json!({"ref": {"$endsWith": "/main"}}), hook.clone()));
    assert!(!body(json!({"ref": {"$endsWith": "/dev"}}), hook.clone()));
    assert!(body(json!({"ref": {"$contains": "heads"}}), hook.clone()));
    assert!(!body(json!({"ref": {"$contains": "tags"}}), hook.clone()));
    assert!(
        !body(json!({"ref": {"$startsWith": "r"}}), json!({"ref": 1})),
        "not a string"
    );
}

#[test]
fn contains_on_arrays_looks_for_an_element() {
    let hook = json!({"labels": ["bug", "p1"], "ids": [1, 2]});
    assert!(body(json!({"labels": {"$contains": "bug"}}), hook.clone()));
    assert!(
        !body(json!({"labels": {"$contains": "bu"}}), hook.clone()),
        "elements, not substrings"
    );
    assert!(body(json!({"ids": {"$contains": 2}}), hook.clone()));
    assert!(!body(json!({"ids": {"$contains": 3}}), hook));
}

#[test]
fn arrays_match_element_wise() {
    let hook = json!({
        "tags": ["a", "b", "c"],
        "commits": [{"author": "x", "n": 1}, {"author": "y", "n": 9}]
    });
    assert!(
        body(json!({"tags": "b"}), hook.clone()),
        "a scalar against an array: some element"
    );
    assert!(!body(json!({"tags": "z"}), hook.clone()));
    assert!(
        body(json!({"tags": ["c", "a"]}), hook.clone()),
        "an array: every element, any order"
    );
    assert!(!body(json!({"tags": ["a", "z"]}), hook.clone()));
    assert!(
        body(json!({"commits": {"author": "y"}}), hook.clone()),
        "an object: some element"
    );
    assert!(
        !body(json!({"commits": {"author": "y", "n": 1}}), hook.clone()),
        "both fields on the same element"
    );
    assert!(body(json!({"commits": {"n": {"$gt": 5}}}), hook.clone()));
    assert!(body(json!({"tags": {"$in": ["z", "c"]}}), hook.clone()));
    assert!(body(json!({"tags": {"$startsWith": "b"}}), hook.clone()));
    assert!(
        !body(json!({"tags": {"$neq": "b"}}), hook.clone()),
        "$neq: no element equal"
    );
    assert!(
        !body(json!({"tags": ["a"]}), json!({"tags": "a"})),
        "an array rule needs an array"
    );
}

#[test]
fn or_and_not_nest_at_any_depth() {
    let hook = json!({"action": "labeled", "pr": {"label": {"name": "bug"}, "n": 3}});
    assert!(body(
        json!({"$or": [{"action": "opened"}, {"action": "labeled"}]}),
        hook.clone()
    ));
    assert!(!body(
        json!({"$or": [{"action": "opened"}, {"action": "closed"}]}),
        hook.clone()
    ));
    assert!(body(
        json!({"$and": [{"action": "labeled"}, {"pr": {"n": 3}}]}),
        hook.clone()
    ));
    assert!(!body(
        json!({"$and": [{"action": "labeled"}, {"pr": {"n": 4}}]}),
        hook.clone()
    ));
    assert!(body(json!({"$not": {"action": "opened"}}), hook.clone()));
    assert!(!body(json!({"$not": {"action": "labeled"}}), hook.clone()));
    let deep = json!({"pr": {"label": {"name": {"$or": [
        {"$eq": "wontfix"},
        {"$and": [{"$startsWith": "b"}, {"$not": {"$endsWith": "x"}}]}
    ]}}}});
    assert!(body(deep, hook.clone()));
    assert!(body(json!({"pr": {"n": {"$not": {"$gt": 5}}}}), hook));
    let top = json!({"$or": [{"body": {"a": 1}}, {"headers": {"x-kind": "b"}}]});
    assert!(matches(
        top.clone(),
        json!({"body": {"a": 2}, "headers": {"x-kind": "b"}})
    ));
    assert!(!matches(
        top,
        json!({"body": {"a": 2}, "headers": {"x-kind": "c"}})
    ));
}

#[test]
fn header_names_match_case_insensitively() {
    let hook = json!({"body": {}, "headers": {"x-github-event": "pull_request"}, "query": {}});
    assert!(matches(
        json!({"headers": {"X-GitHub-Event": "pull_request"}}),
        hook.clone()
    ));
    assert!(matches(
        json!({"headers": {"$or": [{"X-GITHUB-EVENT": "issues"}, {"x-github-event": "pull_request"}]}}),
        hook.clone()
    ));
    assert!(!matches(
        json!({"headers": {"X-GitHub-Event": "issues"}}),
        hook.clone()
    ));
    assert!(
        !matches(
            json!({"body": {"X-GitHub-Event": {"$exist": true}}}),
            json!({"body": {"x-github-event": 1}})
        ),
        "body keys keep their case"
    );
}

#[test]
fn body_headers_and_query_all_hold() {
    let hook = json!({"body": {"a": 1}, "headers": {"x-k": "v"}, "query": {"src": "ci"}});
    assert!(matches(
        json!({"body": {"a": 1}, "headers": {"x-k": "v"}, "query": {"src": "ci"}}),
        hook.clone()
    ));
    assert!(!matches(
        json!({"body": {"a": 1}, "query": {"src": "cd"}}),
        hook.clone()
    ));
    assert!(
        !matches(json!({"body": {"a": 1}}), json!({"body": "text"})),
        "a text body has no fields"
    );
}

#[test]
fn bad_filters_are_refused_with_their_path() {
    assert_eq!(
        refused(json!({"body": {"action": {"$foo": 1}}})),
        "body.action: unknown operator $foo"
    );
    assert_eq!(
        refused(json!({"bodyy": {}})),
        "bodyy: unknown key \"bodyy\": a filter names body, headers or query"
    );
    assert_eq!(
        refused(json!([1])),
        "must be an object naming body, headers or query"
    );
    assert_eq!(
        refused(json!({"body": {"a": {"$in": 3}}})),
        "body.a.$in: $in takes a list of values or a string"
    );
    assert_eq!(
        refused(json!({"body": {"a": {"$gt": true}}})),
        "body.a.$gt: $gt takes a number or a string"
    );
    assert_eq!(
        refused(json!({"body": {"a": {"$exist": "yes"}}})),
        "body.a.$exist: $exist takes true or false"
    );
    assert_eq!(
        refused(json!({"body": {"a": {"$startsWith": 1}}})),
        "body.a.$startsWith: $startsWith takes a string"
    );
    assert_eq!(
        refused(json!({"body": {"$or": []}})),
        "body.$or: $or needs at least one filter"
    );
    assert_eq!(
        refused(json!({"body": {"$and": {"a": 1}}})),
        "body.$and: $and takes a list of filters"
    );
    assert_eq!(
        refused(json!({"$or": [{"body": {}}, {"body": {"x": {"$nope": 1}}}]})),
        "$or[1].body.x: unknown operator $nope"
    );
    assert_eq!(
        refused(json!({"$or": [{"bad": 1}]})),
        "$or[0].bad: unknown key \"bad\": a filter names body, headers or query"
    );
    assert_eq!(refused(json!({"$not": 1})), "$not: $not takes an object");
}
