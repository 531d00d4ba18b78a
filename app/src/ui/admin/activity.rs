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
                let details = match &e.details {
                    serde_json::Value::Object(m) if m.is_empty() => String::new(),
                    serde_json::Value::Object(m) => m.iter().map(|(k, v)| format!("{k}: {}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect::<Vec<_>>().join(", "),
                    other => other.to_string(),
                };
                view! {
                    <tr>
                        <td class=TD>{time_view(e.at)}</td>
                        <td class=TD>{e.actor}</td>
                        <td class=TD><code class="text-xs">{e.action}</code></td>
                        <td class=TD>{format!("{} {}", e.target_kind, e.target_name)}</td>
                        <td class="max-w-xs truncate px-4 py-3 text-xs text-slate-500" title=details.clone()>{details.clone()}</td>
                    </tr>
                }
            }).collect_view()}
        </Table>
    }
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = Memo::new(move |_| (q("actor"), q("action"), q("target"), q("before").parse::<i64>().ok()));
    let events = Resource::new(
        move || filters.get(),
        |(actor, action, target, before)| list_activity(actor, action, target, before),
    );
    admin_only(move |_| {
        let (actor, action, target, _) = filters.get_untracked();
        let csv = format!(
            "/admin/activity.csv?actor={}&action={}&target={}",
            urlencode(&actor),
            urlencode(&action),
            urlencode(&target)
        );
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
                <button type="submit" class=BUTTON_SECONDARY>"Filter"</button>
                <a href=csv class=BUTTON_SECONDARY download="activity.csv">"Export CSV"</a>
            </form>
            {loaded(events, move |feed| {
                if feed.items.is_empty() && feed.before.is_none() {
                    return view! {
                        <EmptyState title="No activity matches"><p>"Changes to users, teams, namespaces, tokens and settings are recorded here."</p></EmptyState>
                    }.into_any();
                }
                let (actor, action, target, _) = filters.get_untracked();
                let href = move |before: Option<i64>| {
                    let mut h = format!("/admin/activity?actor={}&action={}&target={}", urlencode(&actor), urlencode(&action), urlencode(&target));
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
