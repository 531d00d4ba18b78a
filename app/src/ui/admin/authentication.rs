//! Admin → Authentication: how people sign in (the directory, providers, local passwords,
//! mail) and the group mappings that give teams and administrator rights.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{admin_only, AdminHeader};
use crate::api::admin::{
    auth_overview, check_connections, try_directory_user, AddGroupMapping, DeleteGroupMapping, SetGroupMappingSource,
};
use crate::model::{ConnectionStatus, DirectoryLookup, GroupMappingView, TeamRole};
use crate::ui::components::*;

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
    // "Test connections" is a GET form too (`?test=now`): the answer is part of the page.
    let testing = Memo::new(move |_| query.read().get("test").is_some());
    let tested = Resource::new(
        move || testing.get(),
        |on| async move {
            if on {
                check_connections().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    admin_only(move |_| {
        view! {
            <AdminHeader current="/admin/authentication"/>
            {loaded(overview, move |o| {
                let has_directory = o.directory.is_some();
                let services = usize::from(has_directory) + usize::from(o.mail.is_some()) + o.providers.len();
                view! {
                    {(services > 0).then(|| view! {
                        <div class="mb-6">
                            <Card title="Connections">
                                <form method="get" action="/admin/authentication" class="flex flex-wrap items-center gap-3">
                                    <input type="hidden" name="test" value="now"/>
                                    <button type="submit" class=BUTTON_SECONDARY>"Test connections"</button>
                                    <span class="text-xs text-slate-500">"Asks the directory, the mail server and each sign-in provider now, as portcullis doctor does."</span>
                                </form>
                                {move || testing.get().then(|| view! { <div class="mt-4">{loaded_part(tested, connections_view)}</div> })}
                            </Card>
                        </div>
                    })}
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

/// What "Test connections" found, service by service.
fn connections_view(found: Option<Vec<ConnectionStatus>>) -> AnyView {
    view! {
        <ul class="divide-y divide-slate-100" data-testid="connections">
            {found.unwrap_or_default().into_iter().map(|c| view! {
                <li class="flex flex-wrap items-start gap-x-3 gap-y-1 py-2 text-sm">
                    {if c.ok { view! { <Badge text="Answers" tone=Tone::Green/> } } else { view! { <Badge text="Unreachable" tone=Tone::Red/> } }}
                    <span class="font-medium text-slate-900">{c.service}</span>
                    <span class="break-all font-mono text-xs text-slate-500">{c.address}</span>
                    {(!c.ok).then(|| view! { <p class="w-full text-slate-700">{c.message}</p> })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
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
