//! The namespace list (with the form to create one) and the namespace page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::components::*;
use super::signed_in_or_visitor;
use crate::api::namespaces::{
    get_namespace, list_namespaces, CreateNamespace, DeleteNamespace, NamespaceDetail, SetQuota, SetVisibility,
    UpdateNamespace,
};
use crate::model::{human_size, NamespaceView, Visibility};

#[component]
pub fn NamespacesPage() -> impl IntoView {
    let create = ServerAction::<CreateNamespace>::new();
    let error = action_error(create);
    let query = use_query_map();
    let params = Memo::new(move |_| (query.read().get("q").unwrap_or_default(), page_number(&query.read(), "page")));
    let list = Resource::new(
        move || (params.get(), create.version().get()),
        |((q, page), _)| list_namespaces(Some(q), Some(page)),
    );
    signed_in_or_visitor(move |user| {
        view! {
            <Title text="Namespaces"/>
            <PageHeader title="Namespaces" subtitle="Where repositories live. A namespace belongs to one team; its visibility decides who may pull."/>
            {loaded(list, move |l| {
                            let signed_in = user.is_some();
                            let can_create = signed_in && !l.teams_for_new.is_empty();
                            let q = params.get_untracked().0;
                            let pager = {
                                let q = q.clone();
                                pager(&l.namespaces, move |p| format!("/namespaces?q={}&page={p}", super::urlencode(&q)))
                            };
                            view! {
                                <div class="grid gap-6 lg:grid-cols-3">
                                    <div class="lg:col-span-2">
                                        <form method="get" action="/namespaces" class="mb-4 flex flex-wrap items-end gap-3" role="search">
                                            <label class="text-sm"><span class="sr-only">"Filter the list"</span>
                                                <input name="q" value=q.clone() class=INPUT placeholder="name or description contains…" maxlength="100"/></label>
                                            <button type="submit" class=BUTTON_SECONDARY>"Filter"</button>
                                        </form>
                                        <NamespaceTable namespaces=l.namespaces.items/>
                                        {pager}
                                    </div>
                                    {can_create.then(|| view! {
                                        <Card title="New namespace">
                                            <ActionForm action=create attr:class="space-y-4">
                                                <FormError error/>
                                                <Field label="Name" name="name" required=true error hint="Lowercase letters, digits and . _ - between them."/>
                                                <div>
                                                    <label for="field-team" class="mb-1 block text-sm font-medium text-slate-700">"Owning team"</label>
                                                    <select id="field-team" name="team" class=format!("{SELECT} w-full")>
                                                        {l.teams_for_new.iter().map(|(t, _)| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
                                                    </select>
                                                </div>
                                                {if l.may_choose_visibility {
                                                    view! { <VisibilityChoice current=Visibility::Private/> }.into_any()
                                                } else {
                                                    view! { <p class="text-sm text-slate-500">"New namespaces start private. Who may open them up is set by the site settings."</p> }.into_any()
                                                }}
                                                <Field label="Description" name="description" error/>
                                                <Submit label="Create namespace" busy_label="Creating…" pending=create.pending()/>
                                            </ActionForm>
                                        </Card>
                                    })}
                                </div>
                            }
            })}
        }
    })
}

#[component]
fn NamespaceTable(namespaces: Vec<NamespaceView>) -> impl IntoView {
    if namespaces.is_empty() {
        return view! {
            <EmptyState title="No namespaces to show">
                <p>"Namespaces you may pull from appear here: your personal one, your teams' and public ones."</p>
            </EmptyState>
        }
        .into_any();
    }
    view! {
        <Table head=vec!["Namespace", "Team", "Visibility", "Your role"]>
            {namespaces
                .into_iter()
                .map(|n| n.namespace)
                .map(|n| {
                    let team = if n.is_personal { "personal".to_string() } else { n.team_name.clone() };
                    view! {
                        <tr class="hover:bg-slate-50">
                            <td class=TD>
                                <a class=LINK href=format!("/namespaces/{}", n.name)>{n.name.clone()}</a>
                                <p class="max-w-xs truncate text-xs text-slate-500">{n.description.clone()}</p>
                            </td>
                            <td class=TD>{team}</td>
                            <td class=TD>{visibility_badge(n.visibility)}</td>
                            <td class=TD>{n.role.map(role_badge)}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </Table>
    }
    .into_any()
}

/// Radio buttons for the three visibilities, each with what it means.
#[component]
fn VisibilityChoice(current: Visibility) -> impl IntoView {
    view! {
        <fieldset>
            <legend class="mb-1 block text-sm font-medium text-slate-700">"Visibility"</legend>
            <div class="space-y-2">
                {Visibility::ALL
                    .into_iter()
                    .map(|v| view! {
                        <label class="flex items-start gap-2 text-sm">
                            <input type="radio" name="visibility" value=v.as_str() checked=v == current class="mt-0.5"/>
                            <span><span class="font-medium text-slate-800">{v.as_str()}</span>
                                <span class="text-slate-500">" — " {v.describe()}</span></span>
                        </label>
                    })
                    .collect_view()}
            </div>
        </fieldset>
    }
}

#[component]
pub fn NamespacePage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let visibility = ServerAction::<SetVisibility>::new();
    let update = ServerAction::<UpdateNamespace>::new();
    let delete = ServerAction::<DeleteNamespace>::new();
    let quota = ServerAction::<SetQuota>::new();
    let query = use_query_map();
    let page = Memo::new(move |_| page_number(&query.read(), "page"));
    // The tab shown (`?tab=`); switching tabs reads nothing again.
    let tab = Memo::new(move |_| query.read().get("tab").unwrap_or_default());
    let detail = Resource::new(
        move || (name.get(), page.get(), visibility.version().get(), update.version().get(), quota.version().get()),
        |(n, page, ..)| get_namespace(n, Some(page)),
    );
    let cleanup = super::cleanup::Cleanup::new(move || (name.get(), None));
    let hooks = super::webhooks::Webhooks::new(move || Some(name.get()));
    let rules = super::tag_rules::TagRules::new(move || name.get());
    let actions = NamespaceActions { visibility, update, delete, quota, cleanup, hooks, rules };
    signed_in_or_visitor(move |_| loaded(detail, move |d| view! { <NamespaceDetailView d tab=tab.get() actions/> }))
}

/// What a namespace's page does, made before anything is awaited.
#[derive(Clone, Copy)]
struct NamespaceActions {
    visibility: ServerAction<SetVisibility>,
    update: ServerAction<UpdateNamespace>,
    delete: ServerAction<DeleteNamespace>,
    quota: ServerAction<SetQuota>,
    cleanup: super::cleanup::Cleanup,
    hooks: super::webhooks::Webhooks,
    rules: super::tag_rules::TagRules,
}

/// How much a namespace stores, and of what limit: " · 1.2 GB of 50 GB (2%)".
fn quota_line(q: &crate::model::QuotaView) -> impl IntoView {
    let used = human_size(q.used_bytes);
    match q.limit_bytes {
        None => view! { <span>{format!(" · {used} stored")}</span> }.into_any(),
        Some(limit) => {
            let percent = q.percent();
            let class = if percent >= 100 {
                "font-medium text-red-700"
            } else if percent >= 85 {
                "font-medium text-amber-700"
            } else {
                ""
            };
            view! { <span class=class data-testid="quota">{format!(" · {used} of {} ({percent}%)", human_size(limit))}</span> }.into_any()
        }
    }
}

/// A namespace: a summary line, and a tab of it (repositories, who may do what, cleanup, tag
/// rules, webhooks, activity, settings), as the repository page has tabs.
#[component]
fn NamespaceDetailView(d: NamespaceDetail, tab: String, actions: NamespaceActions) -> impl IntoView {
    let NamespaceActions { visibility, update, delete, quota, cleanup, hooks, rules } = actions;
    let (abilities, n) = (d.namespace.abilities, d.namespace.namespace);
    let vis_error = action_error(visibility);
    let upd_error = action_error(update);
    let del_error = action_error(delete);
    let quota_error = action_error(quota);
    let owner = if n.is_personal {
        view! { <span>"the personal namespace of " <span class="font-medium">{n.team_name.clone()}</span></span> }
            .into_any()
    } else {
        view! { <span>"owned by team " <a class=LINK href=format!("/teams/{}", n.team_name)>{n.team_name.clone()}</a></span> }.into_any()
    };
    let settings = abilities.change_visibility || abilities.edit || abilities.delete_namespace || d.may_set_quota;
    let base = format!("/namespaces/{}", n.name);
    let shown: Vec<(&'static str, &'static str)> = [
        ("", "Repositories", true),
        ("access", "Who may do what", true),
        ("cleanup", "Cleanup", abilities.cleanup),
        ("rules", "Rules & signing", true),
        ("webhooks", "Webhooks", abilities.webhooks),
        ("activity", "Activity", true),
        ("settings", "Settings", settings),
    ]
    .into_iter()
    .filter_map(|(key, label, shown)| shown.then_some((key, label)))
    .collect();
    // An unknown tab, or one the viewer may not see, is the repositories.
    let tab = if shown.iter().any(|(key, _)| *key == tab) { tab } else { String::new() };
    let tabs: Vec<(String, &'static str, bool)> = shown
        .into_iter()
        .map(|(key, label)| {
            let href = if key.is_empty() { base.clone() } else { format!("{base}?tab={key}") };
            (href, label, key == tab)
        })
        .collect();
    let name = n.name.clone();
    let body = match tab.as_str() {
        "access" => view! {
            <Card title="Who may do what">
                <Table head=vec!["Who", "Pull", "Push", "Delete"]>
                    {d.roles
                        .into_iter()
                        .map(|(who, pull, push, del)| {
                            let mark = |b: bool| if b { "✓" } else { "—" };
                            view! {
                                <tr>
                                    <td class=TD>{who}</td>
                                    <td class=TD>{mark(pull)}</td>
                                    <td class=TD>{mark(push)}</td>
                                    <td class=TD>{mark(del)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </Table>
                <p class="mt-2 text-xs text-slate-500">"Administrators may do everything."</p>
            </Card>
        }
        .into_any(),
        "cleanup" => view! { <super::cleanup::CleanupCard state=cleanup namespace=name.clone()/> }.into_any(),
        // Tag rules are managed by the same people as cleanup (owners of the team, administrators).
        "rules" => view! {
            <super::tag_rules::TagRulesCard state=rules namespace=name.clone() manage=abilities.cleanup registry_host=d.registry_host.clone()/>
        }
        .into_any(),
        "webhooks" => view! { <super::webhooks::WebhooksCard state=hooks namespace=Some(name.clone())/> }.into_any(),
        "activity" => view! {
            <Card title="Recent activity">
                {if d.activity.is_empty() {
                    view! { <p class="text-sm text-slate-500">"Nothing has happened here yet."</p> }.into_any()
                } else {
                    view! { <super::admin::ActivityTable events=d.activity/> }.into_any()
                }}
            </Card>
        }
        .into_any(),
        "settings" => {
            let (name1, name2, description) = (name.clone(), name.clone(), n.description.clone());
            let (name3, q) = (name.clone(), d.quota.clone());
            view! {
            <div class="max-w-2xl space-y-6">
                {d.may_set_quota.then(|| {
                    let current = match q.limit_source.as_str() {
                        "namespace" => String::new(),
                        _ => q.limit_bytes.map(|l| format!("The site's default: {}.", human_size(l))).unwrap_or_else(|| "No limit: the site has no default.".into()),
                    };
                    let value = if q.limit_source == "namespace" { q.limit_bytes.map(human_size).unwrap_or_default() } else { String::new() };
                    view! {
                    <Card title="Storage quota">
                        <ActionForm action=quota attr:class="space-y-4">
                            <FormError error=quota_error/>
                            <input type="hidden" name="namespace" value=name3.clone()/>
                            <p class="text-sm text-slate-600">
                                {format!("{} used (the distinct layers of its images; a layer shared by two images counts once). ", human_size(q.used_bytes))}
                                "A push that would go over the quota is refused, saying so. "
                                {current}
                            </p>
                            <Field label="Quota" name="limit" value=value placeholder="e.g. 50 GB" error=quota_error
                                hint="A size such as 50 GB, 500 MB or 1.5 GiB; empty for the site's default."/>
                            <Submit label="Save quota" busy_label="Saving…" pending=quota.pending()/>
                        </ActionForm>
                    </Card>
                    }
                })}
                {abilities.change_visibility.then(|| view! {
                    <Card title="Visibility">
                        <ActionForm action=visibility attr:class="space-y-4" attr:data-testid="visibility-form">
                            <FormError error=vis_error/>
                            <input type="hidden" name="namespace" value=name1.clone()/>
                            <VisibilityChoice current=n.visibility/>
                            <Submit label="Save visibility" busy_label="Saving…" pending=visibility.pending()/>
                        </ActionForm>
                    </Card>
                })}
                {abilities.edit.then(|| view! {
                    <Card title="Description">
                        <ActionForm action=update attr:class="space-y-4">
                            <FormError error=upd_error/>
                            <input type="hidden" name="namespace" value=name2.clone()/>
                            <Field label="Description" name="description" value=description.clone() error=upd_error/>
                            <Submit label="Save description" busy_label="Saving…" pending=update.pending()/>
                        </ActionForm>
                    </Card>
                })}
                {abilities.delete_namespace.then(|| view! {
                    <Card title="Danger zone">
                        <FormError error=del_error/>
                        <ConfirmAction action=delete label="Delete namespace…" start=true question=format!("Delete namespace {name}? This cannot be undone.") yes="Yes, delete it">
                            <input type="hidden" name="namespace" value=name.clone()/>
                        </ConfirmAction>
                    </Card>
                })}
            </div>
            }.into_any()
        }
        _ => {
            let pager = {
                let name = name.clone();
                pager(&d.repositories, move |p| format!("/namespaces/{name}?page={p}"))
            };
            view! {
                <super::images::RepositoryTable repositories=d.repositories.items empty_title="No repositories yet">
                    <p>{format!("Push an image to {}/{}/<name>:<tag> and it appears here.", d.registry_host, name)}</p>
                </super::images::RepositoryTable>
                {pager}
            }
            .into_any()
        }
    };
    view! {
        <Title text=n.name.clone()/>
        <PageHeader title=n.name.clone() subtitle=n.description.clone()>
            {visibility_badge(n.visibility)}
        </PageHeader>
        <p class="-mt-4 mb-6 text-sm text-slate-600">
            {owner} {n.role.map(|r| view! { <span>" · your role: " {role_badge(r)}</span> })}
            {match d.repositories.total {
                1 => " · 1 repository".to_string(),
                n => format!(" · {n} repositories"),
            }}
            <span data-testid="tag-count">{format!(" · {}", count_of(d.tag_count, "tag"))}</span>
            {quota_line(&d.quota)}
        </p>
        <Tabs label="Namespace" tabs/>
        {body}
    }
}
