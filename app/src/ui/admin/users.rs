//! Admin → Users: every account, made, changed, disabled and removed here; a bot's tokens.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{admin_only, AdminHeader};
use crate::api::admin::{list_users, CreateUser, DeleteUser, SendPasswordReset, SetUserPassword, UpdateUser};
use crate::api::tokens::{take_new_secret, CreateTokenFor};
use crate::model::MIN_PASSWORD_LEN;
use crate::ui::components::*;
use crate::ui::urlencode;

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
    let session = crate::ui::use_session();
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
                            <Table head=vec!["User", "Status", "Last sign-in", ""] wide_only=vec![2]>
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

/// One user in the administrators' list, with what may be done to them behind one menu.
/// What changes access (make admin, disable, delete) asks first.
#[component]
fn UserRow(
    u: crate::model::UserView,
    /// The administrator looking (not offered actions on themself).
    me: i64,
    actions: RowActions,
) -> impl IntoView {
    let RowActions { update, delete, mint, set_password, send_reset, mail } = actions;
    let myself = u.id == me;
    let name = u.username.clone();
    // A change of the admin or enabled flag: its hidden fields.
    let flag = move |field: &'static str, value: bool| {
        view! {
            <input type="hidden" name="id" value=u.id/>
            <input type="hidden" name=field value=value.to_string()/>
        }
    };
    view! {
        <tr data-user=u.username.clone()>
            <td class=TD>
                <span class="font-medium text-slate-900">{u.username.clone()}</span>
                {u.is_admin.then(|| view! { <span class="ml-2"><Badge text="admin" tone=Tone::Indigo/></span> })}
                {u.is_bot.then(|| view! { <span class="ml-2"><Badge text="bot" tone=Tone::Amber/></span> })}
                {(u.source == "ldap").then(|| view! { <span class="ml-2" title="Signs in with the directory (LDAP) password"><Badge text="directory" tone=Tone::Blue/></span> })}
                {(u.source == "oidc").then(|| view! { <span class="ml-2" title="Signs in through an identity provider (OpenID Connect)"><Badge text="provider" tone=Tone::Blue/></span> })}
                <p class="text-xs text-slate-500">{u.email.clone().map(|e| format!("{e} · "))} "joined " {time_view(u.created_at)}</p>
            </td>
            <td class=TD>{if u.is_enabled { view! { <Badge text="enabled" tone=Tone::Green/> } } else { view! { <Badge text="disabled" tone=Tone::Red/> } }}</td>
            <td class=format!("{TD} {WIDE_ONLY}")>
                {match (u.last_sign_in_at, u.is_bot) {
                    (Some(at), _) => time_view(at).into_any(),
                    (None, true) => view! { <span class="text-slate-500">"tokens only"</span> }.into_any(),
                    (None, false) => view! { <span class="text-slate-500">"never"</span> }.into_any(),
                }}
            </td>
            <td class=format!("{TD} text-right align-top")>
                {(!myself).then(|| view! {
                    <details class="inline-block text-left" data-actions>
                        <summary class=format!("{BUTTON_SMALL} cursor-pointer list-none")>"Actions ▾"</summary>
                        // In the row, not floating over the table: the table scrolls, and would clip it.
                        <div class="mt-2 w-60 space-y-2 whitespace-normal rounded-md border border-slate-200 bg-white p-3 text-sm shadow-sm">
                            {if u.is_admin {
                                view! { <ActionForm action=update>{flag("admin", false)}<button type="submit" class=MENU_ITEM>"Remove admin rights"</button></ActionForm> }.into_any()
                            } else {
                                view! {
                                    <Ask label="Make admin…" question=format!("Make {name} an administrator? They may then change every user, team, namespace and setting.")>
                                        <ActionForm action=update>{flag("admin", true)}<button type="submit" class=BUTTON>"Yes, make admin"</button></ActionForm>
                                    </Ask>
                                }.into_any()
                            }}
                            {if u.is_enabled {
                                view! {
                                    <Ask label="Disable…" question=format!("Disable {name}? They are signed out everywhere, and their passwords and access tokens stop working until enabled again.")>
                                        <ActionForm action=update>{flag("enabled", false)}<button type="submit" class=BUTTON_DANGER>"Yes, disable"</button></ActionForm>
                                    </Ask>
                                }.into_any()
                            } else {
                                view! { <ActionForm action=update>{flag("enabled", true)}<button type="submit" class=MENU_ITEM>"Enable"</button></ActionForm> }.into_any()
                            }}
                            {u.is_bot.then(|| view! {
                                <Ask label="Token…" question="A token for this bot, shown once.">
                                    <ActionForm action=mint attr:class="space-y-3">
                                        <input type="hidden" name="user_id" value=u.id/>
                                        <label class="block"><span class="mb-1 block font-medium">"Token name"</span>
                                            <input name="name" required class=INPUT placeholder="ci"/></label>
                                        <label class="flex items-center gap-2"><input type="checkbox" name="pull_only" value="true"/>"Pull only"</label>
                                        <button type="submit" class=BUTTON>"Create token"</button>
                                    </ActionForm>
                                </Ask>
                            })}
                            {(!u.is_bot && u.source == "local").then(|| view! {
                                <Ask label="Password…" question="Signs them out everywhere; docker logins with the old password stop working.">
                                    <ActionForm action=set_password attr:class="space-y-3">
                                        <input type="hidden" name="id" value=u.id/>
                                        <label class="block"><span class="mb-1 block font-medium">"New password"</span>
                                            <input name="password" type="password" autocomplete="new-password" required minlength=MIN_PASSWORD_LEN class=INPUT/></label>
                                        <button type="submit" class=BUTTON>"Set password"</button>
                                    </ActionForm>
                                    {match (u.email.clone(), mail) {
                                        (Some(email), true) => view! {
                                            <ActionForm action=send_reset attr:class="mt-3 border-t border-slate-100 pt-3">
                                                <input type="hidden" name="id" value=u.id/>
                                                <button type="submit" class=BUTTON_SECONDARY>"Email a reset link"</button>
                                                <p class="mt-1 text-xs text-slate-500">{format!("To {email}; it works once, for an hour.")}</p>
                                            </ActionForm>
                                        }.into_any(),
                                        (None, true) => view! { <p class="mt-3 border-t border-slate-100 pt-3 text-xs text-slate-500">"No email address: a reset link cannot be sent."</p> }.into_any(),
                                        (_, false) => view! { <p class="mt-3 border-t border-slate-100 pt-3 text-xs text-slate-500">"Reset links need email (smtp_host)."</p> }.into_any(),
                                    }}
                                </Ask>
                            })}
                            <Ask label="Delete…" question=format!("Delete {name} with their personal namespace and tokens? This cannot be undone.")>
                                <ActionForm action=delete>
                                    <input type="hidden" name="id" value=u.id/>
                                    <button type="submit" class=BUTTON_DANGER>"Yes, delete"</button>
                                </ActionForm>
                            </Ask>
                        </div>
                    </details>
                })}
            </td>
        </tr>
    }
}

/// An entry of a row's actions menu.
const MENU_ITEM: &str = "block w-full rounded px-2 py-1.5 text-left font-medium text-slate-700 hover:bg-slate-100";

/// An entry of the actions menu that opens in place (a `<details>`, so without JavaScript
/// too): `question` and what answers it.
#[component]
fn Ask(label: &'static str, #[prop(into)] question: String, children: Children) -> impl IntoView {
    view! {
        <details>
            <summary class=format!("{MENU_ITEM} cursor-pointer list-none")>{label}</summary>
            <div class="mt-1 space-y-3 rounded-md bg-slate-50 p-3">
                <p class="text-slate-700">{question}</p>
                {children()}
            </div>
        </details>
    }
}
