//! A namespace's or a repository's cleanup policy on its page (owners): the rules, a dry run
//! that lists what would go and why, and a run now.

use leptos::prelude::*;

use super::components::*;
use leptos_router::hooks::use_query_map;

use crate::api::cleanup::{get_cleanup, preview_cleanup, RunCleanup, SaveCleanup};
use crate::error::AppError;
use crate::model::{human_size, short_digest, CleanupPolicyView, CleanupReport, CleanupRunSummary};

/// What the cleanup card reads and does. Made at the top of its page, before anything is
/// awaited: a resource made inside a suspended view is numbered by when its parent resolves,
/// which differs between the server and the browser, and hydration then takes one resource's
/// data for another's.
#[derive(Clone, Copy)]
pub struct Cleanup {
    save: ServerAction<SaveCleanup>,
    run: ServerAction<RunCleanup>,
    policy: Resource<Result<Option<CleanupPolicyView>, AppError>>,
    /// The dry run the page's address asks for (`?dry-run`), rendered on the server.
    dry_run: Resource<Result<Option<CleanupReport>, AppError>>,
}

impl Cleanup {
    /// `target`: the namespace, and the repository whose own policy it is (if any).
    pub fn new(target: impl Fn() -> (String, Option<String>) + Copy + Send + Sync + 'static) -> Self {
        let save = ServerAction::<SaveCleanup>::new();
        let run = ServerAction::<RunCleanup>::new();
        let query = use_query_map();
        let policy = Resource::new(
            move || (target(), save.version().get(), run.version().get()),
            |((ns, repo), ..)| get_cleanup(ns, repo),
        );
        let dry_run = Resource::new(
            move || (target(), query.read().get("dry-run").is_some(), save.version().get(), run.version().get()),
            |((ns, repo), wanted, ..)| async move {
                match wanted {
                    true => preview_cleanup(ns, repo).await.map(Some),
                    false => Ok(None),
                }
            },
        );
        Cleanup { save, run, policy, dry_run }
    }
}

/// `repository`: the repository's own policy (which wins over its namespace's).
#[component]
pub fn CleanupCard(state: Cleanup, namespace: String, #[prop(optional)] repository: Option<String>) -> impl IntoView {
    let Cleanup { save, run, policy, dry_run } = state;
    // This page (the namespace's cleanup tab, or the repository's settings), and its address
    // asking for a dry run.
    let (page, preview_href) = match &repository {
        Some(r) => {
            let page = crate::ui::RepositoryPath::SETTINGS.of(r);
            (page.clone(), format!("{page}?dry-run#cleanup"))
        }
        None => (
            format!("/namespaces/{namespace}?tab=cleanup"),
            format!("/namespaces/{namespace}?tab=cleanup&dry-run#cleanup"),
        ),
    };
    let repo = repository.clone().unwrap_or_default();
    let own = repository.is_some();
    let save_error = action_error(save);
    let run_error = action_error(run);
    let ns = namespace.clone();
    view! {
        <section id="cleanup" class="rounded-lg border border-slate-200 bg-white p-5 shadow-sm sm:p-6">
            <h2 class="text-base font-semibold text-slate-900">"Cleanup policy"</h2>
            <p class="mb-4 mt-1 text-sm text-slate-600">
                "Delete old tags from the registry: keep the newest, what is still used, and what a pattern names. "
                "An image is deleted only when every tag of it goes. "
                <span>{if own { "This repository's own policy wins over its namespace's." } else { "A repository may have a policy of its own, on its page." }}</span>
            </p>
            {loaded_part(policy, move |p: Option<CleanupPolicyView>| {
                let (ns, b) = (ns.clone(), ns.clone());
                let (r0, r2) = (repo.clone(), repo.clone());
                let rules = p.as_ref().map(|p| p.rules.clone());
                let num = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
                let keep_last = num(rules.as_ref().and_then(|r| r.keep_last));
                let keep_days = num(rules.as_ref().and_then(|r| r.keep_days));
                let include = rules.as_ref().map(|r| r.include_pattern.clone()).unwrap_or_else(|| ".*".into());
                let keep = rules.as_ref().map(|r| r.keep_pattern.clone()).unwrap_or_else(|| "^latest$".into());
                let schedule = rules.as_ref().map(|r| r.schedule.clone()).unwrap_or_default();
                let enabled = rules.as_ref().is_none_or(|r| r.enabled);
                let untagged = rules.as_ref().is_some_and(|r| r.delete_untagged);
                let last = p.as_ref().and_then(|p| p.last_run.clone());
                let paused = p.as_ref().and_then(|p| p.paused.clone());
                let runs = paused.is_none();
                let preview_href = preview_href.clone();
                view! {
                    {p.is_none().then(|| view! { <p class="mb-3 text-sm text-slate-500">{if own {
                        "No policy of its own: its namespace's applies, if it has one."
                    } else {
                        "No policy yet: nothing is deleted."
                    }}</p> })}
                    {paused.map(|why| view! { <div class="mb-3" data-testid="cleanup-paused"><Alert kind=AlertKind::Info message=why/></div> })}
                    {last.map(|l| view! { <LastRun l/> })}
                    <ActionForm action=save attr:class="grid gap-4 sm:grid-cols-2">
                        <div class="sm:col-span-2"><FormError error=save_error/></div>
                        <input type="hidden" name="namespace" value=ns/>
                        <input type="hidden" name="repository" value=r0/>
                        <Field label="Keep the newest" name="keep_last" kind="number" value=keep_last error=save_error hint="Tags, by push time. Empty: no such rule."/>
                        <Field label="Keep what was used within (days)" name="keep_days" kind="number" value=keep_days error=save_error hint="Pushed or pulled. Empty: no such rule."/>
                        <Field label="Tags covered" name="include_pattern" value=include error=save_error hint="A regular expression; other tags are always kept."/>
                        <Field label="Always keep" name="keep_pattern" value=keep error=save_error hint="A regular expression, e.g. ^latest$ or ^v\\d+"/>
                        <Field label="Runs by itself (cron, UTC)" name="schedule" value=schedule error=save_error
                            placeholder="0 3 * * 0" hint="e.g. 0 3 * * 0 (Sundays 03:00) or @daily. Empty: only when run here."/>
                        <label class="flex items-center gap-2 self-end text-sm"><input type="checkbox" name="enabled" value="on" checked=enabled/>"Enabled"</label>
                        <label class="flex items-start gap-2 text-sm sm:col-span-2"><input type="checkbox" name="delete_untagged" value="on" checked=untagged class="mt-0.5"/>
                            "Delete images no tag points at any more (they can then no longer be put back)"</label>
                        <div class="sm:col-span-2"><Submit label="Save policy" busy_label="Saving…" pending=save.pending()/></div>
                    </ActionForm>
                    {p.is_some().then(move || {
                        view! {
                            <div class="mt-4 flex flex-wrap items-center gap-3 border-t border-slate-100 pt-4">
                                <a href=preview_href class=BUTTON_SECONDARY>"Preview (dry run)"</a>
                                {runs.then(|| view! {
                                    <ConfirmAction action=run label="Run now…" start=true question="Delete from the registry every tag this policy does not keep? This cannot be undone." yes="Yes, run it">
                                        <input type="hidden" name="namespace" value=b/>
                                        <input type="hidden" name="repository" value=r2/>
                                    </ConfirmAction>
                                })}
                            </div>
                        }
                    })}
                }.into_any()
            })}
            <div class="mt-3"><FormError error=run_error/></div>
            // A run's report in place once hydrated; before, the run's summary above says it.
            {move || run.value().get().and_then(Result::ok).map(|r| view! { <ReportView r/> })}
            {loaded_part(dry_run, move |r: Option<CleanupReport>| {
                let close = page.clone();
                r.map(|r| view! {
                    <ReportView r/>
                    <a href=close class=format!("{LINK} mt-2 inline-block text-sm")>"Close the dry run"</a>
                })
            })}
        </section>
    }
    .into_any()
}

/// The newest run's counts.
#[component]
fn LastRun(l: CleanupRunSummary) -> impl IntoView {
    let by = match l.trigger.as_str() {
        "schedule" => "on schedule",
        _ => "on demand",
    };
    let counts = format!(
        ": deleted {}, kept {}, skipped {}; {} for the registry's garbage collection to free.",
        l.deleted,
        l.kept,
        l.skipped,
        human_size(l.bytes_freed)
    );
    view! {
        <div class="mb-3 text-sm text-slate-600" data-testid="cleanup-last-run">
            <p>"Last run " {time_view(l.at)} <span>{format!(" {by}{counts}")}</span></p>
            {l.error.map(|e| view! { <Alert kind=AlertKind::Error message=e/> })}
        </div>
    }
}

#[component]
fn ReportView(r: CleanupReport) -> impl IntoView {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    let summary = format!(
        "{} {} {}, keeps {}, skips {}; {} {}.",
        if r.dry_run { "This policy" } else { "The run" },
        verb,
        count_of(r.deleted, "tag"),
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
                                <td class=TD><span class="font-mono">{if d.tag.is_empty() {
                                    format!("{}@{}", d.repository, short_digest(&d.digest))
                                } else {
                                    format!("{}:{}", d.repository, d.tag)
                                }}</span>
                                    <p class="text-xs text-slate-500" title=d.digest.clone()>{short_digest(&d.digest).to_string()}</p></td>
                                <td class=TD><Badge text=d.action.clone() tone/></td>
                                <td class="min-w-64 px-4 py-3 text-sm text-slate-600">{d.reason.clone()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </Table>
            })}
        </div>
    }
    .into_any()
}
