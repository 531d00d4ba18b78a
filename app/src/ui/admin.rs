//! Administration pages: users, activity, settings.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::components::*;
use super::{signed_in, urlencode};
use crate::api::admin::{
    auth_overview, get_settings, list_activity, list_users, try_directory_user, AddGroupMapping, CreateUser,
    DeleteGroupMapping, DeleteUser, SendPasswordReset, SetGroupMappingSource, SetUserPassword, UpdateSettings,
    UpdateUser,
};
use crate::api::tokens::{take_new_secret, CreateTokenFor};
use crate::model::{
    AuditEventView, CurrentUser, DirectoryLookup, GroupMappingView, PushPolicy, TeamRole, MIN_PASSWORD_LEN,
};

/// The top of every admin page: its title, the heading and the tabs across the admin pages.
#[component]
fn AdminHeader(current: &'static str) -> impl IntoView {
    let tabs = [
        ("/admin/users", "Users"),
        ("/admin/activity", "Activity"),
        ("/admin/registry", "Registry"),
        ("/admin/webhooks", "Webhooks"),
        ("/admin/settings", "Settings"),
        ("/admin/authentication", "Authentication"),
    ];
    let title = tabs.iter().find(|(href, _)| *href == current).map_or("Administration", |(_, label)| label);
    view! {
        <Title text=title/>
        <PageHeader title="Administration" subtitle="Users, the activity log, the registry and the site's access settings."/>
        <Tabs label="Administration" tabs=tabs.into_iter().map(|(href, label)| (href.to_string(), label, href == current)).collect()/>
    }
}

/// Renders `page` for administrators only.
fn admin_only<V, F>(page: F) -> impl IntoView
where
    F: Fn(CurrentUser) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    signed_in(move |user| {
        if user.is_admin {
            page(user).into_any()
        } else {
            view! { <ErrorPage error=crate::error::AppError::forbidden("Only administrators may see this page.")/> }
                .into_any()
        }
    })
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let create_error = action_error(create);
    let set_password = ServerAction::<SetUserPassword>::new();
    let send_reset = ServerAction::<SendPasswordReset>::new();
    let row_error = Signal::derive(move || {
        [action_error(update), action_error(delete), action_error(set_password), action_error(send_reset)]
            .into_iter()
            .find_map(|e| e.get())
    });
    let password_done = Signal::derive(move || match (set_password.value().get(), send_reset.value().get()) {
        (_, Some(Ok(email))) => Some(format!("A reset link is on its way to {email}.")),
        (Some(Ok(())), _) => Some("Password set. That user was signed out everywhere.".to_string()),
        _ => None,
    });
    let session = super::use_session();
    let mint = ServerAction::<CreateTokenFor>::new();
    let mint_error = action_error(mint);
    let query = use_query_map();
    let params = Memo::new(move |_| (query.read().get("q").unwrap_or_default(), page_number(&query.read(), "page")));
    let users = Resource::new(
        move || (params.get(), create.version().get(), update.version().get(), delete.version().get()),
        |((q, page), ..)| list_users(Some(q), Some(page)),
    );
    // After a plain form post the new secret waits in the session for this one page load.
    let flashed = Resource::new(|| (), |_| take_new_secret());
    let secret = new_secret(mint, flashed);
    admin_only(move |me| {
        view! {
            <AdminHeader current="/admin/users"/>
            <div class="grid gap-6 lg:grid-cols-3">
                <div class="lg:col-span-2">
                    <div class="mb-3"><FormError error=row_error/></div>
                    {move || password_done.get().map(|m| view! { <div class="mb-3"><Alert kind=AlertKind::Success message=m/></div> })}
                    <div class="mb-3"><FormError error=mint_error/></div>
                    <NewSecret secret/>
                    <form method="get" action="/admin/users" class="mb-4 flex flex-wrap items-end gap-3" role="search">
                        <label class="text-sm"><span class="sr-only">"Find users"</span>
                            <input name="q" value=move || params.get().0 class=INPUT placeholder="name or email contains…" maxlength="100"/></label>
                        <button type="submit" class=BUTTON_SECONDARY>"Find"</button>
                    </form>
                    {loaded(users, move |list| {
                        let mail = session.site.get().and_then(|s| s.ok()).is_some_and(|s| s.password_reset_by_email);
                        let actions = RowActions { update, delete, mint, set_password, send_reset, mail };
                        if list.items.is_empty() {
                            return view! {
                                <EmptyState title="No users match"><p>"Try another part of a name or an email address."</p></EmptyState>
                            }.into_any();
                        }
                        let q = params.get_untracked().0;
                        let pager = pager(&list, move |p| format!("/admin/users?q={}&page={p}", urlencode(&q)));
                        let me = me.id;
                        view! {
                            <Table head=vec!["User", "Role", "Status", "Created", ""]>
                                {list.items.into_iter().map(|u| view! { <UserRow u me actions/> }).collect_view()}
                            </Table>
                            {pager}
                        }.into_any()
                    })}
                </div>
                <Card title="New user">
                    <ActionForm action=create attr:class="space-y-4">
                        <FormError error=create_error/>
                        <Field label="Username" name="username" required=true error=create_error/>
                        <Field label="Password" name="password" kind="password" autocomplete="new-password" error=create_error
                            hint="Leave empty for a bot user: bots sign in with access tokens only."/>
                        <Field label="Email" name="email" kind="email" error=create_error/>
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="admin" value="true"/>"Administrator"</label>
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="bot" value="true"/>"Bot user (no password)"</label>
                        <Submit label="Create user" busy_label="Creating…" pending=create.pending()/>
                    </ActionForm>
                </Card>
            </div>
        }
    })
}

/// What the administrators' list of users may do to a user.
#[derive(Clone, Copy)]
struct RowActions {
    update: ServerAction<UpdateUser>,
    delete: ServerAction<DeleteUser>,
    mint: ServerAction<CreateTokenFor>,
    set_password: ServerAction<SetUserPassword>,
    send_reset: ServerAction<SendPasswordReset>,
    /// Whether mail can be sent (reset links).
    mail: bool,
}

/// One user in the administrators' list, with what may be done to them.
#[component]
fn UserRow(
    u: crate::model::UserView,
    /// The administrator looking (not offered actions on themself).
    me: i64,
    actions: RowActions,
) -> impl IntoView {
    let RowActions { update, delete, mint, set_password, send_reset, mail } = actions;
    let myself = u.id == me;
    view! {
        <tr data-user=u.username.clone()>
            <td class=TD>
                <span class="font-medium text-slate-900">{u.username.clone()}</span>
                {u.is_bot.then(|| view! { <span class="ml-2"><Badge text="bot" tone=Tone::Amber/></span> })}
                {(u.source == "ldap").then(|| view! { <span class="ml-2" title="Signs in with the directory (LDAP) password"><Badge text="directory" tone=Tone::Blue/></span> })}
                {(u.source == "oidc").then(|| view! { <span class="ml-2" title="Signs in through an identity provider (OpenID Connect)"><Badge text="provider" tone=Tone::Blue/></span> })}
                <p class="text-xs text-slate-500">{u.email.clone().unwrap_or_default()}</p>
            </td>
            <td class=TD>{if u.is_admin { view! { <Badge text="admin" tone=Tone::Indigo/> }.into_any() } else { view! { <span>"user"</span> }.into_any() }}</td>
            <td class=TD>{if u.is_enabled { view! { <Badge text="enabled" tone=Tone::Green/> } } else { view! { <Badge text="disabled" tone=Tone::Red/> } }}</td>
            <td class=TD>{time_view(u.created_at)}</td>
            <td class=format!("{TD} text-right")>
                {(!myself).then(|| view! {
                    <div class="flex flex-wrap items-start justify-end gap-2">
                        <ActionForm action=update>
                            <input type="hidden" name="id" value=u.id/>
                            <input type="hidden" name="admin" value=(!u.is_admin).to_string()/>
                            <button type="submit" class=BUTTON_SMALL>{if u.is_admin { "Demote" } else { "Make admin" }}</button>
                        </ActionForm>
                        <ActionForm action=update>
                            <input type="hidden" name="id" value=u.id/>
                            <input type="hidden" name="enabled" value=(!u.is_enabled).to_string()/>
                            <button type="submit" class=BUTTON_SMALL>{if u.is_enabled { "Disable" } else { "Enable" }}</button>
                        </ActionForm>
                        {u.is_bot.then(|| view! {
                            <details class="relative inline-block">
                                <summary class=format!("{BUTTON_SMALL} cursor-pointer list-none")>"Token…"</summary>
                                <div class="absolute right-0 z-20 mt-2 w-72 rounded-md border border-slate-200 bg-white p-4 text-left shadow-lg">
                                    <ActionForm action=mint attr:class="space-y-3">
                                        <input type="hidden" name="user_id" value=u.id/>
                                        <label class="block text-sm"><span class="mb-1 block font-medium">"Token name"</span>
                                            <input name="name" required class=INPUT placeholder="ci"/></label>
                                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="pull_only" value="true"/>"Pull only"</label>
                                        <button type="submit" class=BUTTON>"Create token"</button>
                                    </ActionForm>
                                </div>
                            </details>
                        })}
                        {(!u.is_bot && u.source == "local").then(|| view! {
                            <details class="inline-block">
                                <summary class=format!("{BUTTON_SMALL} cursor-pointer list-none")>"Password…"</summary>
                                // In the row, not floating over the table: the table scrolls, and would clip it.
                                <div class="mt-2 w-64 space-y-4 rounded-md border border-slate-200 bg-white p-4 text-left shadow-sm">
                                    <ActionForm action=set_password attr:class="space-y-3">
                                        <input type="hidden" name="id" value=u.id/>
                                        <label class="block text-sm"><span class="mb-1 block font-medium">"New password"</span>
                                            <input name="password" type="password" autocomplete="new-password" required minlength=MIN_PASSWORD_LEN class=INPUT/></label>
                                        <p class="text-xs text-slate-500">"Signs them out everywhere; docker logins with the old password stop working."</p>
                                        <button type="submit" class=BUTTON>"Set password"</button>
                                    </ActionForm>
                                    {match (u.email.clone(), mail) {
                                        (Some(email), true) => view! {
                                            <ActionForm action=send_reset attr:class="border-t border-slate-100 pt-3">
                                                <input type="hidden" name="id" value=u.id/>
                                                <button type="submit" class=BUTTON_SECONDARY>"Email a reset link"</button>
                                                <p class="mt-1 text-xs text-slate-500">{format!("To {email}; it works once, for an hour.")}</p>
                                            </ActionForm>
                                        }.into_any(),
                                        (None, true) => view! { <p class="border-t border-slate-100 pt-3 text-xs text-slate-500">"No email address: a reset link cannot be sent."</p> }.into_any(),
                                        (_, false) => view! { <p class="border-t border-slate-100 pt-3 text-xs text-slate-500">"Reset links need email (smtp_host)."</p> }.into_any(),
                                    }}
                                </div>
                            </details>
                        })}
                        <ConfirmAction action=delete label="Delete…" question=format!("Delete {} with their personal namespace and tokens? This cannot be undone.", u.username) yes="Yes, delete">
                            <input type="hidden" name="id" value=u.id/>
                        </ConfirmAction>
                    </div>
                })}
            </td>
        </tr>
    }
}

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
                    <select name="action" class=SELECT>
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

#[component]
pub fn SettingsPage() -> impl IntoView {
    let save = ServerAction::<UpdateSettings>::new();
    let error = action_error(save);
    let query = use_query_map();
    let saved =
        Signal::derive(move || action_ok(save).get() || (query.read().get("saved").is_some() && error.get().is_none()));
    let settings = Resource::new(move || save.version().get(), |_| get_settings());
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/settings"/>
            {loaded(settings, move |s| {
                let check = |name: &'static str, label: &'static str, on: bool| view! {
                    <label class="flex items-start gap-2 text-sm">
                        <input type="checkbox" name=name value="true" checked=on class="mt-0.5"/>
                        <span>{label}</span>
                    </label>
                };
                view! {
                    <Card title="Access settings">
                        <ActionForm action=save attr:class="max-w-xl space-y-5">
                            {move || saved.get().then(|| view! { <Alert kind=AlertKind::Success message="Settings saved."/> })}
                            <FormError error/>
                            <fieldset>
                                <legend class="mb-2 text-sm font-medium text-slate-700">"Who may push"</legend>
                                {PushPolicy::ALL.into_iter().map(|p| {
                                    let text = match p {
                                        PushPolicy::AllowTeams => "Owners and contributors of a namespace's team",
                                        PushPolicy::AllowPersonal => "Users only to their personal namespace",
                                        PushPolicy::AdminOnly => "Administrators only",
                                    };
                                    view! {
                                        <label class="flex items-start gap-2 text-sm">
                                            <input type="radio" name="push_policy" value=p.as_str() checked=p == s.push_policy class="mt-0.5"/>
                                            <span>{text}</span>
                                        </label>
                                    }
                                }).collect_view()}
                                <p class="mt-1 text-xs text-slate-500">"Administrators may always push."</p>
                            </fieldset>
                            <fieldset class="space-y-2">
                                <legend class="mb-2 text-sm font-medium text-slate-700">"Deleting images"</legend>
                                {check("delete_enabled", "Images may be deleted (by team owners and administrators)", s.delete_enabled)}
                                {check("contributors_may_delete", "Contributors may delete too", s.contributors_may_delete)}
                            </fieldset>
                            <fieldset class="space-y-2">
                                <legend class="mb-2 text-sm font-medium text-slate-700">"What users may do"</legend>
                                {check("users_may_create_teams", "Create teams", s.users_may_create_teams)}
                                {check("users_may_create_namespaces", "Create namespaces for their teams", s.users_may_create_namespaces)}
                                {check("users_may_change_visibility", "Change the visibility of their teams' namespaces (owners)", s.users_may_change_visibility)}
                            </fieldset>
                            <Submit label="Save settings" busy_label="Saving…" pending=save.pending()/>
                        </ActionForm>
                    </Card>
                }
            })}
        }
    })
}

/// The site-wide webhooks: told of every namespace's images.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let hooks = super::webhooks::Webhooks::new(|| None);
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/webhooks"/>
            <super::webhooks::WebhooksCard state=hooks namespace=None/>
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

/// How people sign in: the directory and mail settings (never a secret), local passwords, the
/// directory's group mappings, and what the directory says of a person ("try a user", a GET
/// form: it works without JavaScript).
#[component]
pub fn AuthenticationPage() -> impl IntoView {
    let add = ServerAction::<AddGroupMapping>::new();
    let remove = ServerAction::<DeleteGroupMapping>::new();
    let set_source = ServerAction::<SetGroupMappingSource>::new();
    let add_error = action_error(add);
    let remove_error = action_error(remove);
    let source_error = action_error(set_source);
    let query = use_query_map();
    let tried = Memo::new(move |_| query.read().get("try").unwrap_or_default());
    let overview = Resource::new(
        move || (add.version().get(), remove.version().get(), set_source.version().get()),
        |_| auth_overview(),
    );
    let lookup = Resource::new(
        move || tried.get(),
        |name| async move {
            if name.trim().is_empty() {
                Ok(None)
            } else {
                try_directory_user(name).await
            }
        },
    );
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/authentication"/>
            {loaded(overview, move |o| {
                let has_directory = o.directory.is_some();
                view! {
                    <div class="grid gap-6 lg:grid-cols-2">
                        <Card title="Directory (LDAP)">
                            {match o.directory {
                                Some(pairs) => settings_list(pairs).into_any(),
                                None => view! { <p class="text-sm text-slate-600">"Not configured: everyone has a local account. Set ldap_url and its neighbours (docs/configuration.md) to sign people in with their directory password."</p> }.into_any(),
                            }}
                        </Card>
                        <Card title="Identity providers (OpenID Connect)">
                            {if o.providers.is_empty() {
                                view! { <p class="text-sm text-slate-600">"Not configured. Add [[oidc_providers]] to the configuration (docs/configuration.md) to sign people in through your identity provider."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="space-y-4">
                                        {o.providers.into_iter().map(|(label, pairs)| view! {
                                            <div data-testid="oidc-provider">
                                                <h3 class="mb-2 text-sm font-semibold text-slate-900">{label}</h3>
                                                {settings_list(pairs)}
                                            </div>
                                        }).collect_view()}
                                    </div>
                                }.into_any()
                            }}
                        </Card>
                        <Card title="Email (SMTP)">
                            {match o.mail {
                                Some(pairs) => settings_list(pairs).into_any(),
                                None => view! { <p class="text-sm text-slate-600">"Not configured: no reset links are mailed; administrators set passwords on the Users tab. Set smtp_host to mail them."</p> }.into_any(),
                            }}
                        </Card>
                        <Card title="Local accounts">
                            <ul class="space-y-1 text-sm text-slate-700">
                                <li>{if o.local_passwords { "Everyone with a local account signs in with its password." } else { "Only administrators sign in with a password kept here (local_passwords = false)." }}</li>
                                <li>{if o.signup_enabled { "Visitors may sign up." } else { "Sign-up is closed." }}</li>
                            </ul>
                        </Card>
                        <Card title="Try a user">
                            <form method="get" action="/admin/authentication" class="flex flex-wrap items-end gap-3">
                                <label class="text-sm"><span class="mb-1 block font-medium">"Username in the directory"</span>
                                    <input name="try" value=move || tried.get() class=INPUT maxlength="64" disabled=!has_directory/></label>
                                <button type="submit" class=BUTTON_SECONDARY disabled=!has_directory>"Look up"</button>
                            </form>
                            <p class="mt-2 text-xs text-slate-500">"What the directory says of a person and which mappings their groups match; no password is asked."</p>
                            {move || (!tried.get().is_empty()).then(|| view! { <div class="mt-4">{loaded_part(lookup, lookup_view)}</div> })}
                        </Card>
                    </div>
                    <div class="mt-6">
                        <Card title="Groups → teams">
                            <div class="mb-3"><FormError error=remove_error/><FormError error=source_error/></div>
                            {mappings_table(o.mappings, o.sources.clone(), remove, set_source)}
                            <ActionForm action=add attr:class="mt-6 grid gap-4 border-t border-slate-100 pt-4 sm:grid-cols-2">
                                <div class="sm:col-span-2"><FormError error=add_error/></div>
                                <label class="block text-sm"><span class="mb-1 block font-medium">"Where the group comes from"</span>
                                    <select name="source" class=INPUT>
                                        {o.sources.iter().map(|(v, l)| view! { <option value=v.clone()>{l.clone()}</option> }).collect_view()}
                                    </select>
                                    <span class="mt-1 block text-xs text-slate-500">"Only that source's groups match: a provider's group never satisfies a directory mapping, nor one provider's another's."</span></label>
                                <label class="block text-sm"><span class="mb-1 block font-medium">"A directory group is named by"</span>
                                    <select name="match_by" class=INPUT>
                                        <option value="dn" selected=true>"its full DN"</option>
                                        <option value="name">"its name (any group of that name in the directory)"</option>
                                    </select>
                                    <span class="mt-1 block text-xs text-slate-500">"A provider's group is the value of its groups claim."</span></label>
                                <Field label="Group (DN, name, or groups claim value)" name="group" required=true error=add_error placeholder="cn=developers,ou=groups,dc=example,dc=org"/>
                                <Field label="Team" name="team" error=add_error hint="Leave empty when the group only makes administrators."/>
                                <label class="block text-sm"><span class="mb-1 block font-medium">"Role in the team"</span>
                                    <select name="role" class=INPUT>
                                        {TeamRole::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == TeamRole::Contributor>{r.as_str()}</option> }).collect_view()}
                                    </select></label>
                                <label class="flex items-center gap-2 self-end text-sm"><input type="checkbox" name="admin" value="true"/>"Members are administrators"</label>
                                <div class="sm:col-span-2"><Submit label="Add mapping" busy_label="Adding…" pending=add.pending()/></div>
                            </ActionForm>
                        </Card>
                    </div>
                }
            })}
        }
    })
}

/// Settings as `name  value` lines.
fn settings_list(pairs: Vec<(String, String)>) -> impl IntoView {
    view! {
        <dl class="grid grid-cols-1 gap-x-4 gap-y-1 text-sm sm:grid-cols-3">
            {pairs.into_iter().map(|(k, v)| view! {
                <dt class="font-mono text-xs text-slate-500 sm:pt-0.5">{k}</dt>
                <dd class="break-all text-slate-900 sm:col-span-2">{v}</dd>
            }).collect_view()}
        </dl>
    }
}

/// What "try a user" found.
fn lookup_view(found: Option<DirectoryLookup>) -> AnyView {
    let Some(u) = found else {
        return view! { <Alert kind=AlertKind::Info message="The directory has no one of that name (as the user filter sees it)."/> }.into_any();
    };
    let groups = if u.groups.is_empty() {
        view! { <p class="text-slate-600">"In no group."</p> }.into_any()
    } else {
        view! {
            <ul class="list-disc space-y-1 pl-5">
                {u.groups.into_iter().map(|(g, m)| view! {
                    <li><span class="break-all font-mono text-xs">{g}</span>
                        {if m.is_empty() { " (no mapping)".to_string() } else { format!(" → {}", m.join(", ")) }}</li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="space-y-2 text-sm" data-testid="directory-lookup">
            <p><span class="font-medium">{u.username}</span>" · "{u.display_name}" · "{u.email.unwrap_or_else(|| "no email".into())}</p>
            <p class="break-all font-mono text-xs text-slate-500">{u.dn}</p>
            {groups}
        </div>
    }.into_any()
}

/// The group mappings, each with a way to remove it; one without a source (made before
/// mappings had sources, with several configured) is flagged, with a way to pick it.
fn mappings_table(
    mappings: Vec<GroupMappingView>,
    sources: Vec<(String, String)>,
    remove: ServerAction<DeleteGroupMapping>,
    set_source: ServerAction<SetGroupMappingSource>,
) -> AnyView {
    if mappings.is_empty() {
        return view! {
            <EmptyState title="No group mappings">
                <p>"Map a group to a team: a directory group (by DN or name) or a value of a provider's groups claim. Its members join the team at their next sign-in, and leave it when they leave the group."</p>
            </EmptyState>
        }.into_any();
    }
    let unsourced = mappings.iter().filter(|m| m.source.is_none()).count();
    view! {
        {(unsourced > 0).then(|| view! {
            <div class="mb-3" data-testid="unsourced-mappings"><Alert kind=AlertKind::Error message=format!(
                "{} not say where {} group comes from, and {} no one until {}: several sources of groups are configured, and a group of the same name from another one must not give its access. Pick the source below.",
                if unsourced == 1 { "1 mapping does".to_string() } else { format!("{unsourced} mappings do") },
                if unsourced == 1 { "its" } else { "their" },
                if unsourced == 1 { "matches" } else { "match" },
                if unsourced == 1 { "it does" } else { "they do" },
            )/></div>
        })}
        <Table head=vec!["Group", "From", "Gives", "Since", ""]>
            {mappings.into_iter().map(|m| {
                let options = sources.clone();
                let from = match (&m.source, &m.source_label) {
                    (Some(_), Some(label)) => {
                        let how = match m.match_by.as_str() { "dn" => " · by DN", "name" => " · by name", _ => "" };
                        view! { <span class="text-sm">{format!("{label}{how}")}</span> }.into_any()
                    }
                    _ => view! {
                        <div class="space-y-2">
                            <Badge text="no source: matches no one" tone=Tone::Red/>
                            <ActionForm action=set_source attr:class="flex flex-wrap items-center gap-2">
                                <input type="hidden" name="id" value=m.id/>
                                <select name="source" class=INPUT aria-label="Source">
                                    {options.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
                                </select>
                                <select name="match_by" class=INPUT aria-label="Directory groups by">
                                    <option value="dn">"by DN"</option>
                                    <option value="name">"by name"</option>
                                </select>
                                <button type="submit" class=BUTTON_SECONDARY>"Set"</button>
                            </ActionForm>
                        </div>
                    }.into_any(),
                };
                view! {
                    <tr data-mapping=m.group_name.clone()>
                        <td class=format!("{TD} break-all font-mono text-xs")>{m.group_name.clone()}</td>
                        <td class=TD>{from}</td>
                        <td class=TD>
                            {m.team.clone().zip(m.role).map(|(t, r)| view! { <span><a class=LINK href=format!("/teams/{t}")>{t.clone()}</a>" as "{role_badge(r)}</span> })}
                            {m.grants_admin.then(|| view! { <span class="ml-2"><Badge text="administrators" tone=Tone::Indigo/></span> })}
                        </td>
                        <td class=TD>{time_view(m.created_at)}</td>
                        <td class=format!("{TD} text-right")>
                            <ConfirmAction action=remove label="Remove…" question=format!("Remove the mapping of {}? Its members leave the team at their next sign-in.", m.group_name) yes="Yes, remove">
                                <input type="hidden" name="id" value=m.id/>
                            </ConfirmAction>
                        </td>
                    </tr>
                }
            }).collect_view()}
        </Table>
    }.into_any()
}
