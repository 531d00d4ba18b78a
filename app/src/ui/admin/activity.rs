//! Admin → Activity: the log of every change, filtered, and its CSV export.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{admin_only, AdminHeader};
use crate::api::admin::list_activity;
use crate::model::AuditEventView;
use crate::ui::components::*;
use crate::ui::urlencode;

/// Activity entries as a table (the admin page and each namespace page).
#[component]
pub fn ActivityTable(events: Vec<AuditEventView>) -> impl IntoView {
    view! {
        <Table head=vec!["When", "Who", "Action", "Target", "Details"]>
            {events.into_iter().map(|e| {
                let target = match target_page(&e.target_kind, &e.target_name) {
                    Some(href) => view! { <a class=LINK href=href>{e.target_name.clone()}</a> }.into_any(),
                    None => view! { <span>{e.target_name.clone()}</span> }.into_any(),
                };
                view! {
                    <tr class="align-top">
                        <td class=TD>{time_view(e.at)}</td>
                        <td class=TD>{e.actor}</td>
                        <td class=TD><code class="text-xs">{e.action}</code></td>
                        <td class="max-w-xs px-4 py-3 break-words text-slate-700"><span class="text-slate-500">{e.target_kind}</span> " " {target}</td>
                        <td class="min-w-64 px-4 py-3 text-xs text-slate-600">{details_view(&e.details)}</td>
                    </tr>
                }
            }).collect_view()}
        </Table>
    }
}

/// Where the page of an entry's target is, for the kinds that have one.
fn target_page(kind: &str, name: &str) -> Option<String> {
    match kind {
        "namespace" => Some(format!("/namespaces/{name}")),
        "team" => Some(format!("/teams/{name}")),
        "repository" => Some(format!("/repositories/{name}")),
        "user" => Some(format!("/admin/users?q={}", urlencode(name))),
        _ => None,
    }
}

/// An entry's details as lines of `key: value` (unset ones left out), wrapped, nothing cut off.
fn details_view(details: &serde_json::Value) -> impl IntoView {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(String::from).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let pairs: Vec<(String, String)> = match details {
        // What is not set says nothing: left out.
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !(v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty)))
            .map(|(k, v)| (k.replace('_', " "), text(v)))
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![(String::new(), text(other))],
    };
    view! {
        <dl class="space-y-0.5">
            {pairs.into_iter().map(|(k, v)| view! {
                <div><dt class="inline font-medium text-slate-700">{(!k.is_empty()).then(|| format!("{k}: "))}</dt><dd class="inline break-all">{v}</dd></div>
            }).collect_view()}
        </dl>
    }
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = Memo::new(move |_| {
        let query = ["actor", "action", "target", "from", "to"]
            .into_iter()
            .map(|k| format!("{k}={}", urlencode(&q(k))))
            .collect::<Vec<_>>()
            .join("&");
        ((q("actor"), q("action"), q("target"), q("from"), q("to")), query, q("before").parse::<i64>().ok())
    });
    let events = Resource::new(
        move || filters.get(),
        |((actor, action, target, from, to), _, before)| {
            list_activity(actor, action, target, Some(from), Some(to), before)
        },
    );
    admin_only(move |_| {
        let ((actor, action, target, from, to), query, _) = filters.get_untracked();
        let csv = format!("/admin/activity.csv?{query}");
        view! {
            <AdminHeader current="/admin/activity"/>
            <form method="get" action="/admin/activity" class="mb-4 flex flex-wrap items-end gap-3">
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Who"</span>
                    <input name="actor" value=actor class=INPUT placeholder="username"/></label>
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Action"</span>
                    <select name="action" class=format!("block h-[2.375rem] {SELECT}")>
                        {["", "user", "team", "namespace", "token", "settings"].into_iter().map(|a| view! {
                            <option value=a selected=a == action>{if a.is_empty() { "any".to_string() } else { a.to_string() }}</option>
                        }).collect_view()}
                    </select></label>
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Target"</span>
                    <input name="target" value=target class=INPUT placeholder="name contains…"/></label>
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"From"</span>
                    <input name="from" type="date" value=from class=INPUT/></label>
                <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"To"</span>
                    <input name="to" type="date" value=to class=INPUT/></label>
                <button type="submit" class=BUTTON_SECONDARY>"Filter"</button>
                <a href=csv class=BUTTON_SECONDARY download="activity.csv">"Export CSV"</a>
            </form>
            {loaded(events, move |feed| {
                if feed.items.is_empty() && feed.before.is_none() {
                    return view! {
                        <EmptyState title="No activity matches"><p>"Changes to users, teams, namespaces, tokens and settings are recorded here."</p></EmptyState>
                    }.into_any();
                }
                let (_, query, _) = filters.get_untracked();
                let href = move |before: Option<i64>| {
                    let mut h = format!("/admin/activity?{query}");
                    if let Some(b) = before {
                        h.push_str(&format!("&before={b}"));
                    }
                    h
                };
                view! {
                    <ActivityTable events=feed.items/>
                    <FeedPager newest=feed.before.map(|_| href(None)) older=feed.next_before.map(|b| href(Some(b)))/>
                }.into_any()
            })}
        }
    })
}
