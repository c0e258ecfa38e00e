//! The OpenAPI document served at /api/openapi.json. Written by hand for now (see
//! ARCHITECTURE.md); a test checks that every API route appears in it.

use serde_json::{json, Value};

fn op(summary: &str, security: bool) -> Value {
    let mut v = json!({
        "summary": summary,
        "responses": {
            "default": {"description": "RFC 9457 problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
    });
    if security {
        v["security"] = json!([{"bearer": []}]);
    }
    v
}

pub fn paths() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    vec![
        ("/api/v1/accounts", "post", "Register a buyer or seller account", false),
        ("/api/v1/sessions", "post", "Log in; returns a bearer token", false),
        (
            "/api/v1/products",
            "get",
            "Browse active products (cursor paging)",
            false,
        ),
        ("/api/v1/products/{id}", "get", "One product", false),
        ("/api/v1/seller/products", "post", "List a product (seller)", true),
        ("/api/v1/seller/products", "get", "The seller's products", true),
        (
            "/api/v1/seller/products/{id}",
            "patch",
            "Edit a listing: title, description, category, price, active/hidden",
            true,
        ),
        (
            "/api/v1/seller/products/{id}/card-keys",
            "post",
            "Bulk import card keys, text/plain, one per line",
            true,
        ),
        (
            "/api/v1/seller/orders/{id}/deliver",
            "post",
            "Manual delivery with a note (seller)",
            true,
        ),
        (
            "/api/v1/orders",
            "post",
            "Create an order (buyer or guest); the server computes the amount",
            false,
        ),
        ("/api/v1/orders", "get", "The caller's orders", true),
        (
            "/api/v1/orders/lookup",
            "post",
            "Guest order lookup (查单) with contact and query password",
            false,
        ),
        (
            "/api/v1/orders/{id}",
            "get",
            "Read an order (its buyer, its seller, or ?access_token=)",
            false,
        ),
        (
            "/api/v1/orders/{id}/timeline",
            "get",
            "The order's events, each with its receipt and checked against the evidence log",
            false,
        ),
        (
            "/api/v1/orders/{id}/delivery",
            "get",
            "Reveal delivered goods to the buyer (recorded)",
            false,
        ),
        ("/api/v1/orders/{id}/confirm", "post", "Accept the goods (buyer)", false),
        (
            "/api/v1/orders/{id}/cancel",
            "post",
            "Cancel an unpaid order (buyer); the stock goes back",
            false,
        ),
        (
            "/api/v1/payments/{provider}/notify",
            "post",
            "Payment notification from a provider (signed raw body)",
            false,
        ),
        (
            "/api/v1/orders/{id}/complaints",
            "post",
            "Open a complaint {kind, description?} (its buyer): freezes the money",
            false,
        ),
        (
            "/api/v1/orders/{id}/complaints",
            "get",
            "The order's complaints (its parties)",
            false,
        ),
        (
            "/api/v1/complaints/{id}",
            "get",
            "A complaint: stage, deadline, evidence, proposal, ruling (parties, arbitrators)",
            false,
        ),
        (
            "/api/v1/complaints/{id}/evidence",
            "post",
            "Evidence: JSON {kind, text} or a file body with ?kind=&sha256=; returns a receipt",
            false,
        ),
        (
            "/api/v1/complaints/{id}/files/{sha256}",
            "get",
            "An evidence file (parties, arbitrators)",
            false,
        ),
        (
            "/api/v1/complaints/{id}/response",
            "post",
            "The seller's answer {text}",
            true,
        ),
        (
            "/api/v1/complaints/{id}/withdraw",
            "post",
            "The buyer withdraws: money back where it was",
            false,
        ),
        (
            "/api/v1/complaints/{id}/steps",
            "post",
            "Arbitrator step {step: ask_buyer|start_appraisal|finish_appraisal, note}",
            true,
        ),
        (
            "/api/v1/complaints/{id}/ruling",
            "post",
            "Ruling {kind: refund_full|release_to_seller|split|redeliver, buyer_bps|refund_bps, reason} (arbitrator)",
            true,
        ),
        (
            "/api/v1/arbitration/queue",
            "get",
            "Open complaints by deadline with triage's proposal (arbitrator)",
            true,
        ),
        (
            "/api/v1/admin/sellers/{id}/freeze",
            "post",
            "Emergency freeze of a seller {reason} (arbitrator, admin)",
            true,
        ),
        (
            "/api/v1/admin/sellers/{id}/unfreeze",
            "post",
            "Lift a freeze {reason} (arbitrator, admin)",
            true,
        ),
        (
            "/api/v1/admin/sellers/{id}/ban",
            "post",
            "Ban a seller for fraud and refund every open order {reason} (arbitrator, admin)",
            true,
        ),
        ("/api/v1/rules", "get", "The published rule set", false),
        (
            "/api/v1/evidence/checkpoint",
            "get",
            "The evidence log's latest checkpoint, a C2SP signed note (text/plain)",
            false,
        ),
        (
            "/api/v1/evidence/key",
            "get",
            "The log's verifier key, signed-note vkey form (text/plain)",
            false,
        ),
        (
            "/api/v1/evidence/receipts/{leaf}",
            "get",
            "Receipt for leaf N: c2sp.org/tlog-proof@v1 with the leaf record in extra",
            false,
        ),
        (
            "/api/v1/evidence/consistency",
            "get",
            "Consistency proof between checkpoint sizes ?from=&to= (base64 hashes, one per line)",
            false,
        ),
        (
            "/api/v1/orders/{id}/payments",
            "post",
            "A new payment attempt for an unpaid order (its buyer)",
            false,
        ),
        ("/api/v1/admin/ledger/check", "get", "Ledger invariants (admin)", true),
        (
            "/api/v1/admin/stats",
            "get",
            "Orders, payments, refunds, jobs and exceptions by state (admin)",
            true,
        ),
        (
            "/api/v1/admin/orders/{id}",
            "get",
            "Any order with its payments and refunds (admin)",
            true,
        ),
        (
            "/api/v1/admin/reconciliation",
            "get",
            "Latest reconciliation runs and open exceptions (admin)",
            true,
        ),
        (
            "/api/v1/admin/reconciliation/statements",
            "post",
            "Reconcile the provider's statement for {from, to} (admin)",
            true,
        ),
        (
            "/api/v1/admin/reconciliation/exceptions/{id}/resolve",
            "post",
            "Resolve an exception: {action: refund|acknowledge, note} (admin)",
            true,
        ),
        (
            "/api/v1/admin/jobs",
            "get",
            "Jobs by ?status= (default dead: the dead-letter queue) (admin)",
            true,
        ),
        (
            "/api/v1/admin/jobs/{id}/retry",
            "post",
            "Requeue a dead-lettered job (admin)",
            true,
        ),
    ]
}

pub fn document() -> Value {
    let mut paths_obj = serde_json::Map::new();
    for (path, method, summary, security) in paths() {
        let entry = paths_obj.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = op(summary, security);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Danbao API", "version": "1", "description": "Escrow marketplace for digital goods. Amounts are integer minor units (fen); times are RFC 3339 UTC. Every POST accepts an Idempotency-Key header."},
        "paths": paths_obj,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {"type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}
                }}
            }
        }
    })
}
