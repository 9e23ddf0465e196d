//! `/admin/workloads`: read-only — the registration entries (which
//! workloads on which nodes get which SPIFFE ID, and who answers for
//! them) and the attested nodes. Changes are made with `keybound workload`
//! at the server's machine. Through the console's seam ([`AdminPage`]).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::admin::nav;
use super::guard::AdminPage;
use super::text::Shown;
use super::{date, layout, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let entries = match state.service.workload_entries((&me).into()).await {
        Ok(entries) => entries,
        Err(e) => return from_service(&e),
    };
    let nodes = match state.service.workload_nodes((&me).into()).await {
        Ok(nodes) => nodes,
        Err(e) => return from_service(&e),
    };
    layout(
        "Workloads",
        "admin-workloads",
        query.notice(),
        html! {
            (nav("/admin/workloads"))
            p {
                "Services on attested nodes receive SPIFFE identities from these entries. "
                "Manage them with " code { "keybound workload" } " at the server."
            }
            h2 { "Entries" }
            @if entries.is_empty() {
                p #no-entries { "No entries." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Entries" {
                    table #entries {
                        tr {
                            th scope="col" { "SPIFFE ID" }
                            th scope="col" { "Parent" }
                            th scope="col" { "Selectors" }
                            th scope="col" { "Owner" }
                            th scope="col" { "X.509 TTL" }
                        }
                        @for e in &entries {
                            tr {
                                td { code { (Shown(&e.spiffe_id)) } }
                                td { (Shown(&e.parent)) }
                                td { (Shown(&e.selectors.join(" "))) }
                                td { (Shown(&e.owner)) }
                                td { (e.x509_ttl_s) " s" }
                            }
                        }
                    }
                }
            }
            h2 { "Nodes" }
            @if nodes.is_empty() {
                p #no-nodes { "No nodes have attested." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Nodes" {
                    table #nodes {
                        tr {
                            th scope="col" { "Node" }
                            th scope="col" { "Status" }
                            th scope="col" { "Attestation" }
                            th scope="col" { "Sets" }
                            th scope="col" { "Last seen" }
                        }
                        @for n in &nodes {
                            tr {
                                td { (Shown(&n.name)) }
                                td { (Shown(&n.status)) }
                                td { (Shown(&n.attestation)) }
                                td { (Shown(&n.sets.join(" "))) }
                                td { (n.last_seen_ms.map_or_else(|| "never".to_owned(), date)) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}
