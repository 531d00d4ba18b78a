//! A namespace's or a repository's cleanup policy on its page (owners): the rules, a dry run
//! that lists what would go and why, and a run now.

use leptos::prelude::*;

use super::components::*;
use crate::api::cleanup::{get_cleanup, PreviewCleanup, RunCleanup, SaveCleanup};
use crate::model::{human_size, short_digest, CleanupPolicyView, CleanupReport};

/// `repository`: the repository's own policy (which wins over its namespace's).
#[component]
pub fn CleanupCard(namespace: String, #[prop(optional)] repository: Option<String>) -> impl IntoView {
    let save = ServerAction::<SaveCleanup>::new();
    let preview = ServerAction::<PreviewCleanup>::new();
    let run = ServerAction::<RunCleanup>::new();
    let (ns, repo) = (namespace.clone(), repository.clone());
    let policy = Resource::new(
        move || (save.version().get(), run.version().get()),
        move |_| get_cleanup(ns.clone(), repo.clone()),
    );
    let repo = repository.clone().unwrap_or_default();
    let own = repository.is_some();
    let save_error = action_error(save);
    let act_error = Signal::derive(move || action_error(preview).get().or_else(|| action_error(run).get()));
    let ns = namespace.clone();
    // The newest report: a run's, or else a preview's.
    let report = Signal::derive(move || match (run.value().get(), preview.value().get()) {
        (Some(Ok(r)), _) => Some(r),
        (_, Some(Ok(r))) => Some(r),
        _ => None,
    });
    view! {
        <section id="cleanup" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">"Cleanup policy"</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">
                "Delete old tags from the registry: keep the newest, what is still used, and what a pattern names. "
                "An image is deleted only when every tag of it goes. "
                <span>{if own { "This repository's own policy wins over its namespace's." } else { "A repository may have a policy of its own, on its page." }}</span>
            </p>
            {loaded_part(policy, move |p: Option<CleanupPolicyView>| {
                let (ns, a, b) = (ns.clone(), ns.clone(), ns.clone());
                let (r0, r1, r2) = (repo.clone(), repo.clone(), repo.clone());
                let rules = p.as_ref().map(|p| p.rules.clone());
                let num = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
                let keep_last = num(rules.as_ref().and_then(|r| r.keep_last));
                let keep_days = num(rules.as_ref().and_then(|r| r.keep_days));
                let include = rules.as_ref().map(|r| r.include_pattern.clone()).unwrap_or_else(|| ".*".into());
                let keep = rules.as_ref().map(|r| r.keep_pattern.clone()).unwrap_or_else(|| "^latest$".into());
                let hours = rules.as_ref().map(|r| r.schedule_hours).unwrap_or(0);
                let enabled = rules.as_ref().is_none_or(|r| r.enabled);
                let last = p.as_ref().and_then(|p| p.last_run_at);
                view! {
                    {p.is_none().then(|| view! { <p class="mb-3 text-sm text-slate-500">{if own {
                        "No policy of its own: its namespace's applies, if it has one."
                    } else {
                        "No policy yet: nothing is deleted."
                    }}</p> })}
                    {last.map(|t| view! { <p class="mb-3 text-sm text-slate-600">"Last run " {time_view(t)}</p> })}
                    <ActionForm action=save attr:class="grid gap-4 sm:grid-cols-2">
                        <div class="sm:col-span-2"><FormError error=save_error/></div>
                        <input type="hidden" name="namespace" value=ns/>
                        <input type="hidden" name="repository" value=r0/>
                        <Field label="Keep the newest" name="keep_last" kind="number" value=keep_last error=save_error hint="Tags, by push time. Empty: no such rule."/>
                        <Field label="Keep what was used within (days)" name="keep_days" kind="number" value=keep_days error=save_error hint="Pushed or pulled. Empty: no such rule."/>
                        <Field label="Tags covered" name="include_pattern" value=include error=save_error hint="A regular expression; other tags are always kept."/>
                        <Field label="Always keep" name="keep_pattern" value=keep error=save_error hint="A regular expression, e.g. ^latest$ or ^v\\d+"/>
                        <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Runs"</span>
                            <select name="schedule_hours" class=SELECT>
                                {[(0, "on demand only"), (24, "every day"), (168, "every week")].into_iter().map(|(h, label)| view! {
                                    <option value=h.to_string() selected=h == hours>{label}</option>
                                }).collect_view()}
                            </select></label>
                        <label class="flex items-center gap-2 self-end text-sm"><input type="checkbox" name="enabled" value="on" checked=enabled/>"Enabled"</label>
                        <div class="sm:col-span-2"><Submit label="Save policy" busy_label="Saving…" pending=save.pending()/></div>
                    </ActionForm>
                    {p.is_some().then(move || {
                        view! {
                            <div class="mt-4 flex flex-wrap items-center gap-3 border-t border-slate-100 pt-4">
                                <ActionForm action=preview>
                                    <input type="hidden" name="namespace" value=a/>
                                    <input type="hidden" name="repository" value=r1/>
                                    <button type="submit" class=BUTTON_SECONDARY>"Preview (dry run)"</button>
                                </ActionForm>
                                <ConfirmAction action=run label="Run now…" question="Delete from the registry every tag this policy does not keep? This cannot be undone." yes="Yes, run it">
                                    <input type="hidden" name="namespace" value=b/>
                                    <input type="hidden" name="repository" value=r2/>
                                </ConfirmAction>
                            </div>
                        }
                    })}
                }.into_any()
            })}
            <div class="mt-3"><FormError error=act_error/></div>
            {move || report.get().map(|r| view! { <ReportView r/> })}
        </section>
    }
    .into_any()
}

#[component]
fn ReportView(r: CleanupReport) -> impl IntoView {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    let summary = format!(
        "{} {} {} tag(s), keeps {}, skips {}; {} {}.",
        if r.dry_run { "This policy" } else { "The run" },
        verb,
        r.deleted,
        r.kept,
        r.skipped,
        human_size(r.bytes_freed),
        if r.dry_run { "would be freed" } else { "freed once the registry collects its garbage" }
    );
    view! {
        <div class="mt-4" data-testid="cleanup-report">
            <p class="mb-2 text-sm font-medium text-slate-800">{summary}</p>
            {(!r.errors.is_empty()).then(|| view! { <Alert kind=AlertKind::Error message=r.errors.join("; ")/> })}
            {(!r.decisions.is_empty()).then(|| view! {
                <Table head=vec!["Tag", "", "Why"] >
                    {r.decisions.into_iter().map(|d| {
                        let tone = match d.action.as_str() { "delete" => Tone::Red, "skip" => Tone::Amber, _ => Tone::Green };
                        view! {
                            <tr data-decision=d.action.clone()>
                                <td class=TD><span class="font-mono">{format!("{}:{}", d.repository, d.tag)}</span>
                                    <p class="text-xs text-slate-500" title=d.digest.clone()>{short_digest(&d.digest).to_string()}</p></td>
                                <td class=TD><Badge text=d.action.clone() tone/></td>
                                <td class=format!("{TD} text-sm text-slate-600")>{d.reason.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </Table>
            })}
        </div>
    }
    .into_any()
}
