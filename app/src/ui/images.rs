//! Images: the repository page (tags, filtered, sorted and paged on the server), the tag
//! page, repository lists, explore and search.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::components::*;
use super::{signed_in_or_visitor, urlencode};
use crate::api::images::{
    explore, get_repository, get_tag, search, DeleteRepository, DeleteTag, RepositoryPageData, UpdateRepository,
};
use crate::model::{human_size, short_digest, BuildStep, ImageConfig, RepositoryView, TagDetail, TagView};

/// A list of repositories.
#[component]
pub fn RepositoryTable(
    repositories: Vec<RepositoryView>,
    #[prop(into)] empty_title: String,
    children: Children,
) -> impl IntoView {
    if repositories.is_empty() {
        return view! { <EmptyState title=empty_title>{children()}</EmptyState> }.into_any();
    }
    view! {
        <Table head=vec!["Repository", "Tags", "Last push", "Size"]>
            {repositories.into_iter().map(|r| view! {
                <tr class="hover:bg-slate-50">
                    <td class=TD>
                        <a class=LINK href=format!("/repositories/{}", r.name)>{r.name.clone()}</a>
                        <p class="max-w-xs truncate text-xs text-slate-500">{r.description.clone()}</p>
                    </td>
                    <td class=TD>{r.tag_count}</td>
                    <td class=TD>
                        {r.last_push_at.map(|t| view! {
                            <span>{time_view(t)} {r.last_pushed_by.clone().map(|by| view! { <span class="text-slate-500">" by " {by}</span> })}</span>
                        })}
                    </td>
                    <td class=TD>{r.size.map(human_size)}</td>
                </tr>
            }).collect_view()}
        </Table>
    }
    .into_any()
}

/// Labels as small chips, linking to the repository filtered by each.
fn label_chips(repo: &str, labels: &[(String, String)], max: usize) -> impl IntoView {
    let more = labels.len().saturating_sub(max);
    view! {
        <span class="flex flex-wrap gap-1">
            {labels.iter().take(max).map(|(k, v)| {
                let href = format!("/repositories/{repo}?label={}", urlencode(&format!("{k}={v}")));
                let short_key = k.rsplit('.').next().unwrap_or(k).to_string();
                view! {
                    <a href=href title=format!("{k}={v}") class="max-w-[14rem] truncate rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-700 hover:bg-indigo-50 hover:text-indigo-700">
                        {format!("{short_key}={v}")}
                    </a>
                }
            }).collect_view()}
            {(more > 0).then(|| view! { <span class="text-xs text-slate-500">{format!("+{more}")}</span> })}
        </span>
    }
}

#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = Memo::new(move |_| (q("tag"), q("label"), q("sort"), q("page").parse::<u32>().unwrap_or(1).max(1)));
    let update = ServerAction::<UpdateRepository>::new();
    let delete_repo = ServerAction::<DeleteRepository>::new();
    let delete_tag = ServerAction::<DeleteTag>::new();
    let data = Resource::new(
        move || (name.get(), filters.get(), update.version().get(), delete_tag.version().get()),
        |(n, (tag, label, sort, page), _, _)| get_repository(n, tag, label, sort, page),
    );
    signed_in_or_visitor(move |_| {
        loaded(data, move |d| view! { <RepositoryView d filters update delete_repo delete_tag/> })
    })
}

#[component]
fn RepositoryView(
    d: RepositoryPageData,
    filters: Memo<(String, String, String, u32)>,
    update: ServerAction<UpdateRepository>,
    delete_repo: ServerAction<DeleteRepository>,
    delete_tag: ServerAction<DeleteTag>,
) -> impl IntoView {
    let r = d.repository;
    let name = r.name.clone();
    let host = d.registry_host.clone();
    let (tag_q, label_q, sort_q, _) = filters.get_untracked();
    let href = {
        let (name, tag_q, label_q, sort_q) = (name.clone(), tag_q.clone(), label_q.clone(), sort_q.clone());
        move |p: u32| {
            format!(
                "/repositories/{name}?tag={}&label={}&sort={}&page={p}",
                urlencode(&tag_q),
                urlencode(&label_q),
                urlencode(&sort_q)
            )
        }
    };
    let filtered = !tag_q.is_empty() || !label_q.is_empty();
    let upd_error = action_error(update);
    let del_error = Signal::derive(move || action_error(delete_repo).get().or_else(|| action_error(delete_tag).get()));
    let namespace_link = r.namespace.clone().map(|ns| {
        view! {
            <span>"in namespace " <a class=LINK href=format!("/namespaces/{ns}")>{ns.clone()}</a></span>
        }
    });
    let (page, pages, total) = (d.tags.page, d.tags.pages(), d.tags.total);
    let can_delete = d.can_delete;
    let rows = d.tags.items.into_iter().map(|t| tag_row(&name, &host, t, can_delete, delete_tag)).collect_view();
    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
    view! {
        <Title text=name.clone()/>
        <PageHeader title=name.clone() subtitle=r.description.clone()>
            {d.can_delete.then(|| view! {
                <Confirm label="Delete repository…" question=format!("Delete {} and all its {} tag(s) from the registry? This cannot be undone.", n1, r.tag_count)>
                    <ActionForm action=delete_repo>
                        <input type="hidden" name="name" value=n2.clone()/>
                        <button type="submit" class=BUTTON_DANGER>"Yes, delete everything"</button>
                    </ActionForm>
                </Confirm>
            })}
        </PageHeader>
        <p class="-mt-4 mb-4 text-sm text-slate-600">{namespace_link} {format!(" · {} tag(s)", r.tag_count)}</p>
        <div class="mb-6 max-w-2xl"><CopyLine command=format!("docker pull {host}/{name}:<tag>")/></div>
        <FormError error=del_error/>
        <form method="get" action=format!("/repositories/{name}") class="mb-4 flex flex-wrap items-end gap-3">
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Tag"</span>
                <input name="tag" value=tag_q class=INPUT placeholder="name contains…"/></label>
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Label"</span>
                <input name="label" value=label_q class=INPUT placeholder="key=value"/></label>
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Sort"</span>
                <select name="sort" class=SELECT>
                    <option value="pushed" selected=sort_q != "name">"Newest push first"</option>
                    <option value="name" selected=sort_q == "name">"Tag name"</option>
                </select></label>
            <button type="submit" class=BUTTON_SECONDARY>"Apply"</button>
            {filtered.then(|| view! { <a class=BUTTON_SECONDARY href=format!("/repositories/{n3}")>"Clear"</a> })}
        </form>
        {if total == 0 {
            view! {
                <EmptyState title=if filtered { "No tag matches" } else { "No tags" }>
                    <p>{if filtered { "Try another filter." } else { "Every tag of this repository was deleted. Push one to bring it back." }}</p>
                </EmptyState>
            }.into_any()
        } else {
            view! {
                <Table head=vec!["Tag", "Digest", "Size", "Platforms", "Created", "Pushed", "Labels", ""] wide_only=vec![1, 2, 3, 4, 5, 6]>{rows}</Table>
                <Pagination page pages total href/>
            }.into_any()
        }}
        {d.can_edit.then(|| view! {
            <div class="mt-6 max-w-xl">
                <Card title="Description">
                    <ActionForm action=update attr:class="space-y-4">
                        <FormError error=upd_error/>
                        <input type="hidden" name="name" value=name.clone()/>
                        <Field label="Description" name="description" value=r.description.clone() error=upd_error/>
                        <Submit label="Save description" busy_label="Saving…" pending=update.pending()/>
                    </ActionForm>
                </Card>
            </div>
        })}
    }
}

/// What deleting a tag does, said before it is done: the registry deletes by digest, so
/// every tag of the same image goes, and multi-platform images that include it break.
fn delete_question(what: &str, t: &TagView) -> String {
    let mut q = format!("Delete {what}? Its image ({}) is deleted from the registry.", short_digest(&t.digest));
    if t.shared_total > 0 {
        let more = t.shared_total - t.shared_with.len() as i64;
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        q += &format!(" The registry deletes by digest, so these tags go too: {}{more}.", t.shared_with.join(", "));
    }
    if !t.in_indexes.is_empty() {
        q += &format!(" It is a platform of {}, which will no longer pull completely.", t.in_indexes.join(", "));
    }
    q
}

/// The hidden fields of a tag's delete form: which tag, where to return, and the image the
/// person saw (refused if the tag has moved since).
fn delete_fields(t: &TagView, repo: &str) -> impl IntoView {
    view! {
        <input type="hidden" name="id" value=t.id/>
        <input type="hidden" name="repository" value=repo.to_string()/>
        <input type="hidden" name="digest" value=t.digest.clone()/>
    }
}

fn tag_row(repo: &str, host: &str, t: TagView, can_delete: bool, delete_tag: ServerAction<DeleteTag>) -> impl IntoView {
    let pull = format!("docker pull {host}/{repo}:{}", t.name);
    let shared = t.shared_with.clone();
    let question = delete_question(&format!("tag {}", t.name), &t);
    let fields = delete_fields(&t, repo);
    let repo = repo.to_string();
    view! {
        <tr class="align-top hover:bg-slate-50" data-tag=t.name.clone()>
            <td class="px-4 py-3">
                <a class=format!("font-mono {LINK}") href=format!("/tags/{}", t.id)>{t.name.clone()}</a>
                {t.signed.then(|| view! { <span class="ml-2"><Badge text="signed" tone=Tone::Green/></span> })}
                <div class="mt-1 w-56"><CopyLine command=pull/></div>
                // At phone width the other columns fold into one line here.
                <p class="mt-1 text-xs text-slate-500 md:hidden">
                    {[t.size.map(human_size), (!t.platforms.is_empty()).then(|| t.platforms.join(", "))]
                        .into_iter()
                        .flatten()
                        .map(|s| s + " · ")
                        .collect::<String>()}
                    "pushed " {time_view(t.pushed_at)} {t.pushed_by.clone().map(|by| format!(" by {by}"))}
                </p>
                {(!shared.is_empty()).then(|| view! {
                    <p class="mt-1 text-xs text-amber-700">{format!("Same image as {}", shared.join(", "))}</p>
                })}
            </td>
            // The whole digest is in the cell (selected and copied whole), shown cut short.
            <td class=format!("{TD} {WIDE_ONLY}")><code class="block w-28 select-all truncate text-xs" title=t.digest.clone()>{t.digest.clone()}</code></td>
            <td class=format!("{TD} {WIDE_ONLY}")>{t.size.map(human_size)}</td>
            <td class=format!("{TD} {WIDE_ONLY}")>
                <span class="flex flex-col gap-0.5 text-xs">{t.platforms.iter().map(|p| view! { <span>{p.clone()}</span> }).collect_view()}</span>
            </td>
            <td class=format!("{TD} {WIDE_ONLY}")>{t.created.map(time_view)}</td>
            <td class=format!("{TD} {WIDE_ONLY}")>
                {time_view(t.pushed_at)}
                {t.pushed_by.clone().map(|by| view! { <p class="text-xs text-slate-500">{format!("by {by}")}</p> })}
            </td>
            <td class=format!("px-4 py-3 {WIDE_ONLY}")>{label_chips(&repo, &t.labels, 3)}</td>
            <td class=format!("{TD} text-right")>
                {can_delete.then(|| view! {
                    <Confirm label="Delete…" question=question.clone()>
                        <ActionForm action=delete_tag>
                            {fields}
                            <button type="submit" class=BUTTON_DANGER>"Yes, delete"</button>
                        </ActionForm>
                    </Confirm>
                })}
            </td>
        </tr>
    }
}

#[component]
pub fn TagPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0));
    let delete = ServerAction::<DeleteTag>::new();
    let data = Resource::new(move || id.get(), get_tag);
    signed_in_or_visitor(move |_| loaded(data, move |d| view! { <TagDetailView d delete/> }))
}

#[component]
fn TagDetailView(d: TagDetail, delete: ServerAction<DeleteTag>) -> impl IntoView {
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
                        {row("Created", view! { <span>{t.created.map(|c| c.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "unknown".into())}</span> }.into_any())}
                        {row("Pushed", view! { <span>{time_view(t.pushed_at)} {t.pushed_by.clone().map(|b| format!(" by {b}"))}</span> }.into_any())}
                        {row("Last pulled", view! { <span>{t.last_pulled_at.map(|p| time_view(p).into_any()).unwrap_or_else(|| view! { <span>"never"</span> }.into_any())}</span> }.into_any())}
                        {row("Other tags", view! { <span>{if t.shared_with.is_empty() { "none".to_string() } else { t.shared_with.join(", ") }}</span> }.into_any())}
                    </dl>
                </Card>
                {d.config.clone().map(|c| view! { <ConfigCard c/> })}
                {(!d.index_entries.is_empty()).then(|| view! {
                    <Card title="Platforms of this index">
                        <Table head=vec!["Platform", "Digest", "Size"]>
                            {d.index_entries.iter().map(|(p, digest, size)| view! {
                                <tr>
                                    <td class=TD>{p.clone()}</td>
                                    <td class=TD><code class="select-all text-xs" title=digest.clone()>{short_digest(digest).to_string()}</code></td>
                                    <td class=TD>{size.map(human_size)}</td>
                                </tr>
                            }).collect_view()}
                        </Table>
                    </Card>
                })}
                {(!d.layers.is_empty()).then(|| view! {
                    <Card title="Layers">
                        <Table head=vec!["#", "Digest", "Size", "Media type"]>
                            {d.layers.iter().enumerate().map(|(i, (mt, digest, size))| view! {
                                <tr>
                                    <td class=TD>{i + 1}</td>
                                    <td class=TD><code class="select-all text-xs" title=digest.clone()>{short_digest(digest).to_string()}</code></td>
                                    <td class=TD>{human_size(*size)}</td>
                                    <td class=TD><code class="text-xs">{mt.clone()}</code></td>
                                </tr>
                            }).collect_view()}
                        </Table>
                        {d.config_digest.clone().map(|c| view! { <p class="mt-2 text-xs text-slate-500">"Config " <code>{c}</code></p> })}
                    </Card>
                })}
                {d.config.as_ref().filter(|c| !c.history.is_empty()).map(|c| view! { <HistoryCard steps=c.history.clone()/> })}
                {d.manifest_json.clone().map(|m| view! {
                    <Card title="Manifest">
                        <details>
                            <summary class="cursor-pointer text-sm text-indigo-700">"Show the manifest as the registry serves it"</summary>
                            <pre class="mt-3 max-h-96 overflow-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100">{m}</pre>
                        </details>
                    </Card>
                })}
            </div>
            <div class="space-y-6">
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
                        <Confirm label="Delete this tag…" question=question.clone()>
                            <ActionForm action=delete>
                                {fields}
                                <button type="submit" class=BUTTON_DANGER>"Yes, delete"</button>
                            </ActionForm>
                        </Confirm>
                    </Card>
                })}
            </div>
        </div>
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

/// Public images, for everyone including visitors.
#[component]
pub fn ExplorePage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let page = Memo::new(move |_| page_number(&query.read(), "page"));
    let data = Resource::new(move || page.get(), |page| explore(Some(page)));
    view! {
        <Title text="Explore"/>
        <PageHeader title="Explore" subtitle="Public images: anyone may pull them, even without an account."/>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPage error=e/> }.into_any(),
                    Ok(list) => {
                        let pager = pager(&list, |p| format!("/explore?page={p}"));
                        view! {
                            <RepositoryTable repositories=list.items empty_title="No public images yet">
                                <p>"Repositories in public namespaces (and the global namespace) appear here."</p>
                            </RepositoryTable>
                            {pager}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let results = Resource::new(move || q.get(), search);
    view! {
        <Title text="Search"/>
        <PageHeader title="Search" subtitle="Namespaces, repositories, tags and labels you may see."/>
        <form method="get" action="/search" class="mb-6 flex max-w-xl gap-2" role="search">
            <input name="q" value=move || q.get() class=INPUT placeholder="Search images…" aria-label="Search"/>
            <button type="submit" class=BUTTON>"Search"</button>
        </form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let term = q.get_untracked();
                match results.await {
                    Err(e) => view! { <ErrorPage error=e/> }.into_any(),
                    Ok(_) if term.trim().is_empty() => view! { <p class="text-sm text-slate-500">"Type a name, a tag or a label value."</p> }.into_any(),
                    Ok(r) if r.namespaces.is_empty() && r.repositories.is_empty() && r.tags.is_empty() => view! {
                        <EmptyState title="Nothing found"><p>{format!("Nothing you may see matches “{term}”.")}</p></EmptyState>
                    }.into_any(),
                    Ok(r) => view! {
                        <div class="space-y-8">
                            {(!r.repositories.is_empty()).then(|| view! {
                                <section><h2 class="mb-3 text-base font-semibold">"Repositories"</h2>
                                    <RepositoryTable repositories=r.repositories.clone() empty_title="">""</RepositoryTable></section>
                            })}
                            {(!r.tags.is_empty()).then(|| view! {
                                <section><h2 class="mb-3 text-base font-semibold">"Tags"</h2>
                                    <Table head=vec!["Tag", "Digest", "Pushed", "Labels"]>
                                        {r.tags.iter().map(|(repo, t)| view! {
                                            <tr>
                                                <td class=TD><a class=LINK href=format!("/tags/{}", t.id)>{format!("{repo}:{}", t.name)}</a></td>
                                                <td class=TD><code class="text-xs">{short_digest(&t.digest).to_string()}</code></td>
                                                <td class=TD>{time_view(t.pushed_at)}</td>
                                                <td class="px-4 py-3">{label_chips(repo, &t.labels, 3)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </Table></section>
                            })}
                            {(!r.namespaces.is_empty()).then(|| view! {
                                <section><h2 class="mb-3 text-base font-semibold">"Namespaces"</h2>
                                    <ul class="space-y-1 text-sm">
                                        {r.namespaces.iter().map(|n| view! {
                                            <li><a class=LINK href=format!("/namespaces/{}", n.name)>{n.name.clone()}</a> " " {visibility_badge(n.visibility)}</li>
                                        }).collect_view()}
                                    </ul></section>
                            })}
                        </div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
