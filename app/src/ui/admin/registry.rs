//! Admin → Registry and Webhooks: the catalog reconcile, the event inbox, site-wide webhooks.

use leptos::prelude::*;

use super::{admin_only, AdminHeader};
use crate::ui::components::*;

/// The site-wide webhooks (told of every namespace's images), and every namespace's own,
/// failing ones first.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let hooks = crate::ui::webhooks::Webhooks::new(|| None);
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/webhooks"/>
            <crate::ui::webhooks::WebhooksCard state=hooks namespace=None/>
            <crate::ui::webhooks::NamespaceWebhooksCard/>
        }
    })
}

/// The registry: reconcile on demand, its recent runs, and the event inbox.
#[component]
pub fn RegistryPage() -> impl IntoView {
    let sync = ServerAction::<crate::api::images::RunReconcile>::new();
    let error = action_error(sync);
    let status = Resource::new(move || sync.version().get(), |_| crate::api::images::get_registry_status());
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/registry"/>
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="space-y-6 lg:col-span-2">
                    {loaded(status, |s| view! {
                        <section>
                            <h2 class="mb-3 text-base font-semibold">"Reconcile runs"</h2>
                            {if s.runs.is_empty() {
                                view! { <p class="text-sm text-slate-500">"No reconcile has run yet."</p> }.into_any()
                            } else {
                                view! {
                                    <Table head=vec!["Started", "Trigger", "Repositories", "Tags +/~/−", "Result"]>
                                        {s.runs.into_iter().map(|r| view! {
                                            <tr>
                                                <td class=TD>{time_view(r.started_at)}</td>
                                                <td class=TD>{r.trigger}</td>
                                                <td class=TD>{r.report.repositories}</td>
                                                <td class=TD>{format!("{} / {} / {}", r.report.tags_added, r.report.tags_updated, r.report.tags_removed)}</td>
                                                <td class=TD>{match (r.finished_at, r.report.error) {
                                                    (_, Some(e)) => view! { <span class="text-red-700" title=e.clone()>"failed"</span> }.into_any(),
                                                    (Some(_), None) => view! { <Badge text="done" tone=Tone::Green/> }.into_any(),
                                                    (None, None) => view! { <span>"running…"</span> }.into_any(),
                                                }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </Table>
                                }.into_any()
                            }}
                        </section>
                        <section>
                            <h2 class="mb-3 text-base font-semibold">"Event inbox"</h2>
                            <p class="mb-3 text-sm text-slate-600">{format!(
                                "{} events waiting. Since the start: {} applied, {} skipped (blob uploads, HEAD checks and the like), {} failed. Processed events are kept {} days.",
                                s.inbox.pending, s.inbox.applied, s.inbox.skipped, s.inbox.failed, s.inbox.retention_days,
                            )}</p>
                            {(!s.inbox.recent_skips.is_empty()).then(|| view! {
                                <Table head=vec!["Received", "Action", "Repository", "Why skipped"]>
                                    {s.inbox.recent_skips.into_iter().map(|(at, action, repo, reason)| view! {
                                        <tr>
                                            <td class=TD>{time_view(at)}</td>
                                            <td class=TD>{action}</td>
                                            <td class=TD>{repo}</td>
                                            <td class="px-4 py-3 text-xs text-slate-600">{reason}</td>
                                        </tr>
                                    }).collect_view()}
                                </Table>
                            })}
                        </section>
                    })}
                </div>
                <Card title="Reconcile now">
                    <p class="mb-4 text-sm text-slate-600">
                        "Walks the registry's catalog and brings Portcullis in step: adds images pushed while notifications were off, removes deleted ones. It also runs at start and every hour."
                    </p>
                    <ActionForm action=sync>
                        <FormError error/>
                        <Submit label="Reconcile with the registry" busy_label="Reconciling…" pending=sync.pending()/>
                    </ActionForm>
                </Card>
            </div>
        }
    })
}
