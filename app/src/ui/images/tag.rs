//! The tag page: how to pull it, the image (digest, size, platforms), what it runs, how it was
//! built, its layers, labels and manifest, and its delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::super::components::*;
use super::super::signed_in_or_visitor;
use super::history::TagHistoryCard;
use super::{delete_fields, delete_question};
use crate::api::images::{get_tag, DeleteTag, RestoreTag};
use crate::model::{human_size, short_digest, BuildStep, ImageConfig, TagDetail, TagLife};

#[component]
pub fn TagPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0));
    let delete = ServerAction::<DeleteTag>::new();
    let restore = ServerAction::<RestoreTag>::new();
    let data = Resource::new(move || (id.get(), restore.version().get()), |(id, _)| get_tag(id));
    signed_in_or_visitor(move |_| loaded(data, move |d| view! { <TagDetailView d delete restore/> }))
}

#[component]
fn TagDetailView(d: TagDetail, delete: ServerAction<DeleteTag>, restore: ServerAction<RestoreTag>) -> impl IntoView {
    let t = d.tag;
    let repo = d.repository.clone();
    let full = format!("{}:{}", repo, t.name);
    let by_tag = format!("docker pull {}/{}", d.registry_host, full);
    let by_digest = format!("docker pull {}/{}@{}", d.registry_host, repo, t.digest);
    let error = action_error(delete);
    let row = |k: &'static str, v: AnyView| {
        view! {
            <div class="grid grid-cols-3 gap-2 py-2 text-sm">
                <dt class="text-slate-500">{k}</dt>
                <dd class="col-span-2 min-w-0 break-words text-slate-900">{v}</dd>
            </div>
        }
    };
    let question = delete_question(&full, &t);
    let fields = delete_fields(&t, &repo);
    view! {
        <Title text=full.clone()/>
        <PageHeader title=full.clone() subtitle=format!("in repository {repo}")>
            {t.signed.then(|| view! { <Badge text="signed" tone=Tone::Green/> })}
        </PageHeader>
        <p class="-mt-4 mb-6 text-sm"><a class=LINK href=format!("/repositories/{repo}")>"← all tags of " {repo.clone()}</a></p>
        {d.incomplete_reason.clone().map(|why| view! {
            <p class="mb-6 rounded-md border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-900" role="note">{why}</p>
        })}
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <Card title="Pull">
                    <div class="space-y-2">
                        <CopyLine command=by_tag.clone()/>
                        <CopyLine command=by_digest.clone()/>
                    </div>
                </Card>
                <Card title="Image">
                    <dl class="divide-y divide-slate-100">
                        {row("Digest", view! { <code class="select-all text-xs">{t.digest.clone()}</code> }.into_any())}
                        {row("Media type", view! { <code class="text-xs">{t.media_type.clone().unwrap_or_default()}</code> }.into_any())}
                        {row("Size", view! { <span>{t.size.map(human_size).unwrap_or_else(|| "unknown".into())}</span> }.into_any())}
                        {row("Platforms", view! { <span>{t.platforms.join(", ")}</span> }.into_any())}
                        {row("Created", view! { <span>{t.created.map(utc_minute).unwrap_or_else(|| "unknown".into())}</span> }.into_any())}
                        {row("Pushed", view! { <span>{time_view(t.pushed_at)} {t.pushed_by.clone().map(|b| format!(" by {b}"))}</span> }.into_any())}
                        {row("Last pulled", view! { <span>{t.last_pulled_at.map(|p| time_view(p).into_any()).unwrap_or_else(|| view! { <span>"never"</span> }.into_any())}</span> }.into_any())}
                        {row("Other tags", view! { <span>{if t.shared_with.is_empty() { "none".to_string() } else { t.shared_with.join(", ") }}</span> }.into_any())}
                    </dl>
                </Card>
                <TagHistoryCard repository=repo.clone() moves=d.history.clone() can_push=d.can_push restore show_tags=false/>
                {d.config.clone().map(|c| view! { <ConfigCard c/> })}
                {(!d.index_entries.is_empty()).then(|| view! { <IndexCard entries=d.index_entries.clone()/> })}
                {(!d.layers.is_empty()).then(|| view! { <LayersCard layers=d.layers.clone() config_digest=d.config_digest.clone()/> })}
                {d.config.as_ref().filter(|c| !c.history.is_empty()).map(|c| view! { <HistoryCard steps=c.history.clone()/> })}
                {d.manifest_json.clone().map(|m| view! {
                    <Card title="Manifest">
                        <details>
                            <summary class="cursor-pointer text-sm text-indigo-700">"Show the manifest as the registry serves it"</summary>
                            <pre class="mt-3 max-h-96 overflow-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100" tabindex="0">{m}</pre>
                        </details>
                    </Card>
                })}
            </div>
            <div class="space-y-6">
                <LifeCard life=d.life.clone() repository=repo.clone()/>
                <Card title="Labels">
                    {if t.labels.is_empty() {
                        view! { <p class="text-sm text-slate-500">"No labels."</p> }.into_any()
                    } else {
                        view! {
                            <dl class="space-y-2 text-sm">
                                {t.labels.iter().map(|(k, v)| view! {
                                    <div><dt class="break-all font-mono text-xs text-slate-500">{k.clone()}</dt><dd class="break-words text-slate-900">{v.clone()}</dd></div>
                                }).collect_view()}
                            </dl>
                        }.into_any()
                    }}
                </Card>
                {(!d.annotations.is_empty()).then(|| view! {
                    <Card title="Annotations">
                        <dl class="space-y-2 text-sm">
                            {d.annotations.iter().map(|(k, v)| view! {
                                <div><dt class="break-all font-mono text-xs text-slate-500">{k.clone()}</dt><dd class="break-words text-slate-900">{v.clone()}</dd></div>
                            }).collect_view()}
                        </dl>
                    </Card>
                })}
                {d.can_delete.then(|| view! {
                    <Card title="Danger zone">
                        <FormError error/>
                        <ConfirmAction action=delete label="Delete this tag…" start=true question=question.clone() yes="Yes, delete">
                            {fields}
                        </ConfirmAction>
                    </Card>
                })}
            </div>
        </div>
    }
}

/// What applies to the tag, together: the tag rules that cover it, what cleanup does with it,
/// its signature, and its namespace's storage.
#[component]
fn LifeCard(life: TagLife, repository: String) -> impl IntoView {
    let namespace = repository.split_once('/').map(|(n, _)| n.to_string());
    let item = |k: &'static str, v: AnyView| {
        view! {
            <div class="py-2 text-sm">
                <dt class="font-medium text-slate-700">{k}</dt>
                <dd class="mt-0.5 text-slate-600">{v}</dd>
            </div>
        }
    };
    let rules = if life.rules.is_empty() {
        view! { <span>"No tag rule covers it: it may move and be deleted."</span> }.into_any()
    } else {
        let href = namespace.as_ref().map(|n| format!("/namespaces/{n}?tab=rules")).unwrap_or_default();
        view! {
            <ul class="space-y-1">
                {life.rules.iter().map(|r| view! {
                    <li>{r.describe()} " (rule " <a class=LINK href=href.clone()>{r.tags.clone()}</a> ")"</li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let cleanup = match life.cleanup {
        None => "No cleanup policy covers it.".to_string(),
        Some(c) => {
            let what = match c.action.as_str() {
                "keep" => "Kept",
                "delete" => "Deleted at the next run",
                "skip" => "Stays",
                _ => "Not worked out here",
            };
            let when = if !c.enabled {
                ", which is off".to_string()
            } else if c.schedule.is_empty() {
                ", run on demand".to_string()
            } else {
                format!(", run on schedule {}", c.schedule)
            };
            format!("{what}: {} (the policy of {}{when}).", c.reason, c.policy)
        }
    };
    let signature = life.signature.said();
    let attached = (!life.attached.is_empty()).then(|| {
        view! {
            <ul class="space-y-1">
                {life.attached.iter().map(|a| view! {
                    <li>{a.kind.clone()} " " <code class="text-xs" title=a.artifact_type.clone()>{short_digest(&a.digest)}</code></li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    });
    let quota = life.quota.map(|q| match q.limit_bytes {
        Some(l) => format!(
            "{} uses {} of its {} quota ({}%).",
            q.namespace,
            human_size(q.used_bytes),
            human_size(l),
            q.percent()
        ),
        None => format!("{} stores {}, with no quota.", q.namespace, human_size(q.used_bytes)),
    });
    view! {
        <Card title="What applies">
            <dl class="divide-y divide-slate-100" data-testid="tag-life">
                {item("Tag rules", rules)}
                {item("Cleanup", view! { <span>{cleanup}</span> }.into_any())}
                {item("Signature", view! { <span>{signature}</span> }.into_any())}
                {attached.map(|a| item("Attached", a))}
                {quota.map(|q| item("Storage", view! { <span>{q}</span> }.into_any()))}
            </dl>
        </Card>
    }
}

/// What an image runs: entrypoint, command, user, ports, environment.
#[component]
fn ConfigCard(c: ImageConfig) -> impl IntoView {
    let joined = |v: &[String]| (!v.is_empty()).then(|| v.join(" "));
    let rows: Vec<(&'static str, Option<String>)> = vec![
        ("Entrypoint", joined(&c.entrypoint)),
        ("Command", joined(&c.cmd)),
        ("User", c.user.clone()),
        ("Working directory", c.working_dir.clone()),
        ("Exposed ports", (!c.exposed_ports.is_empty()).then(|| c.exposed_ports.join(", "))),
        ("Stop signal", c.stop_signal.clone()),
    ];
    let rows: Vec<_> = rows.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    view! {
        <Card title="Runs">
            {if rows.is_empty() && c.env.is_empty() {
                view! { <p class="text-sm text-slate-500">"The image sets no entrypoint, command or environment."</p> }.into_any()
            } else {
                view! {
                    <dl class="divide-y divide-slate-100">
                        {rows.into_iter().map(|(k, v)| view! {
                            <div class="grid grid-cols-3 gap-2 py-2 text-sm">
                                <dt class="text-slate-500">{k}</dt>
                                <dd class="col-span-2 min-w-0 break-all font-mono text-xs text-slate-900">{v}</dd>
                            </div>
                        }).collect_view()}
                        {(!c.env.is_empty()).then(|| view! {
                            <div class="grid grid-cols-3 gap-2 py-2 text-sm">
                                <dt class="text-slate-500">"Environment"</dt>
                                <dd class="col-span-2 min-w-0 space-y-1">
                                    {c.env.iter().map(|e| view! { <code class="block break-all text-xs text-slate-900">{e.clone()}</code> }).collect_view()}
                                </dd>
                            </div>
                        })}
                    </dl>
                }.into_any()
            }}
        </Card>
    }
}

/// How the image was built, step by step, with the size of each layer.
#[component]
fn HistoryCard(steps: Vec<BuildStep>) -> impl IntoView {
    view! {
        <Card title="Build history">
            <ol class="divide-y divide-slate-100">
                {steps.into_iter().enumerate().map(|(i, s)| {
                    let what = s.created_by.clone().or(s.comment.clone()).unwrap_or_else(|| "(no command recorded)".into());
                    // Docker writes metadata steps as `/bin/sh -c #(nop) CMD …`: show the instruction.
                    let what = match what.split_once("#(nop) ") {
                        Some((_, rest)) => rest.trim().to_string(),
                        None => what,
                    };
                    view! {
                        <li class="flex items-start gap-3 py-2 text-sm">
                            <span class="w-6 shrink-0 text-right text-xs text-slate-400">{i + 1}</span>
                            <code class="min-w-0 flex-1 break-all text-xs text-slate-800">{what}</code>
                            <span class="shrink-0 text-xs text-slate-500">
                                {match (s.empty_layer, s.layer_size) {
                                    (true, _) => "no layer".to_string(),
                                    (false, Some(n)) => human_size(n),
                                    (false, None) => String::new(),
                                }}
                            </span>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </Card>
    }
}

/// The platforms an index lists, each with its image's digest and size.
#[component]
fn IndexCard(entries: Vec<(String, String, Option<i64>)>) -> impl IntoView {
    view! {
        <Card title="Platforms of this index">
            <Table head=vec!["Platform", "Digest", "Size"]>
                {entries.into_iter().map(|(p, digest, size)| view! {
                    <tr>
                        <td class=TD>{p}</td>
                        <td class=TD><code class="select-all text-xs" title=digest.clone()>{short_digest(&digest).to_string()}</code></td>
                        <td class=TD>{size.map(human_size)}</td>
                    </tr>
                }).collect_view()}
            </Table>
        </Card>
    }
}

/// An image's layers in order, and its config blob.
#[component]
fn LayersCard(layers: Vec<(String, String, i64)>, config_digest: Option<String>) -> impl IntoView {
    view! {
        <Card title="Layers">
            <Table head=vec!["#", "Digest", "Size", "Media type"]>
                {layers.into_iter().enumerate().map(|(i, (mt, digest, size))| view! {
                    <tr>
                        <td class=TD>{i + 1}</td>
                        <td class=TD><code class="select-all text-xs" title=digest.clone()>{short_digest(&digest).to_string()}</code></td>
                        <td class=TD>{human_size(size)}</td>
                        <td class=TD><code class="text-xs">{mt}</code></td>
                    </tr>
                }).collect_view()}
            </Table>
            {config_digest.map(|c| view! { <p class="mt-2 break-all text-xs text-slate-500">"Config " <code>{c}</code></p> })}
        </Card>
    }
}
