//! The OpenAPI document against the real router, both ways: every API route the server
//! registers is in the served document with its schemas, and every documented operation
//! is routed (its answer is the handler's, not the router's 404 or 405).

use danbao_testkit::TestApp;
use std::collections::BTreeSet;

on_both_databases!(every_api_route_is_documented_and_every_documented_route_is_served);

/// Routes outside the API that the document leaves out on purpose: the server-rendered
/// pages and the in-process sandbox gateway (a simulator of an outside provider).
fn is_api_route(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Every (path, method) the router itself holds, read from its `Debug` output (axum has
/// no other way to list routes): the `RouteId → path` map of its path router and each
/// route's `Allow` header. HEAD comes with GET and is left out.
fn registered_routes(router: &impl std::fmt::Debug) -> BTreeSet<(String, String)> {
    let debug = format!("{router:?}");
    // The main path router comes first; the fallback router after it has its own ids.
    let main = &debug[..debug
        .find("fallback_router")
        .expect("a Router's Debug names its fallback_router")];
    let (routes, node) = main.split_at(main.find("node: Node").expect("a PathRouter's Debug shows its node"));
    let id_after = |s: &str| -> Option<(String, usize)> {
        let start = s.find("RouteId(")? + "RouteId(".len();
        let end = start + s[start..].find(')')?;
        Some((s[start..end].to_string(), end))
    };
    let mut paths = std::collections::BTreeMap::new();
    let mut rest = node;
    while let Some((id, end)) = id_after(rest) {
        rest = &rest[end..];
        let Some(q) = rest.find('"') else { break };
        let Some(len) = rest[q + 1..].find('"') else { break };
        paths.insert(id, rest[q + 1..q + 1 + len].to_string());
        rest = &rest[q + 1 + len..];
    }
    let mut out = BTreeSet::new();
    let mut rest = routes;
    while let Some((id, end)) = id_after(rest) {
        rest = &rest[end..];
        let next = rest.find("RouteId(").unwrap_or(rest.len());
        let entry = &rest[..next];
        if let Some(a) = entry.find("allow_header: Bytes(b\"") {
            let allow = &entry[a + "allow_header: Bytes(b\"".len()..];
            let allow = &allow[..allow.find('"').unwrap_or(0)];
            let path = paths.get(&id).unwrap_or_else(|| panic!("route {id} has no path"));
            for m in allow.split(',').filter(|m| *m != "HEAD") {
                out.insert((path.clone(), m.to_lowercase()));
            }
        }
    }
    out
}

async fn every_api_route_is_documented_and_every_documented_route_is_served(t: TestApp) {
    let served = t.get("/api/openapi.json", None).await;
    assert_eq!(served.status, 200);
    let doc = served.body;
    assert_eq!(
        doc,
        serde_json::to_value(danbao_http::openapi_document()).unwrap(),
        "the served document is the one `danbao openapi` prints"
    );
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for field in ["type", "title", "status", "detail"] {
        assert!(problem[field].is_object(), "Problem schema lacks {field}");
    }

    // The real router, as `server::start` builds it.
    let router = danbao_http::router(t.app().clone(), Some(t.sandbox().clone()));
    let registered = registered_routes(&router);
    assert!(
        registered.iter().any(|(p, _)| p == "/lookup") && registered.iter().any(|(p, _)| p == "/api/v1/orders"),
        "could not read the router's routes: {registered:?}"
    );
    let api: BTreeSet<_> = registered.into_iter().filter(|(p, _)| is_api_route(p)).collect();
    for (path, method) in &api {
        let op = &doc["paths"][path][method];
        assert!(
            op.is_object(),
            "{method} {path} is routed but not in the OpenAPI document"
        );
        let responses = op["responses"].as_object().unwrap();
        let ok = responses
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .unwrap_or_else(|| panic!("{method} {path}: no success response"));
        let content = ok.1["content"].as_object();
        assert!(
            content.is_some_and(|c| c.values().all(|m| m["schema"].is_object())),
            "{method} {path}: success response without a schema"
        );
        if path.starts_with("/api/v1/") {
            for status in ["401", "404", "422", "500"] {
                assert_eq!(
                    responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path}: {status} is not a problem"
                );
            }
        }
    }

    // The other way: each documented operation answers on the running server.
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    assert_eq!(documented, api, "documented and routed differ");
    let id = uuid::Uuid::now_v7().to_string();
    for (path, method) in &documented {
        let url = path
            .replace("{id}", &id)
            .replace("{provider}", "sandbox")
            .replace("{leaf}", "0")
            .replace("{sha256}", &"0".repeat(64));
        let req = t
            .http
            .request(method.to_uppercase().parse().unwrap(), format!("{}{url}", t.url));
        let req = if method == "get" {
            req
        } else {
            req.header("content-type", "application/json").body("{}")
        };
        let r = t.raw(req).await;
        assert_ne!(r.status, 405, "{method} {path}: method not allowed");
        if r.status == 404 {
            assert_eq!(
                r.problem_type(),
                "https://danbao.dev/problems/not-found",
                "{method} {path}"
            );
            assert_ne!(
                r.body["detail"], "no such route",
                "{method} {path} is documented but not routed"
            );
        }
    }
    t.finish().await;
}
