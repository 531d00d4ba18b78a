//! The team list (with the form to create one) and the team page: members and namespaces.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::components::*;
use super::signed_in;
use crate::api::teams::{
    get_team, list_teams, AddMember, CreateTeam, DeleteTeam, RemoveMember, SetMemberRole, TeamDetail,
};
use crate::model::TeamRole;

#[component]
pub fn TeamsPage() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let error = action_error(create);
    let query = use_query_map();
    let page = Memo::new(move |_| page_number(&query.read(), "page"));
    let list = Resource::new(move || (page.get(), create.version().get()), |(page, _)| list_teams(Some(page)));
    signed_in(move |_| {
        view! {
            <Title text="Teams"/>
            <PageHeader title="Teams" subtitle="People who share namespaces. Owners manage the team; contributors push; viewers pull."/>
            {loaded(list, move |l| view! {
                            <div class="grid gap-6 lg:grid-cols-3">
                                <div class="lg:col-span-2">
                                    {if l.teams.items.is_empty() {
                                        view! {
                                            <EmptyState title="You are not in any team yet">
                                                <p>"Create a team to share namespaces with others, or ask a team owner to add you."</p>
                                            </EmptyState>
                                        }.into_any()
                                    } else {
                                        let pager = pager(&l.teams, |p| format!("/teams?page={p}"));
                                        view! {
                                            <Table head=vec!["Team", "Members", "Namespaces", "Your role"]>
                                                {l.teams.items.into_iter().map(|t| view! {
                                                    <tr class="hover:bg-slate-50">
                                                        <td class=TD>
                                                            <a class=LINK href=format!("/teams/{}", t.name)>{t.name.clone()}</a>
                                                            <p class="max-w-xs truncate text-xs text-slate-500">{t.description.clone()}</p>
                                                        </td>
                                                        <td class=TD>{t.member_count}</td>
                                                        <td class=TD>{t.namespace_count}</td>
                                                        <td class=TD>{t.role.map(role_badge)}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </Table>
                                            {pager}
                                        }.into_any()
                                    }}
                                </div>
                                {l.can_create.then(|| view! {
                                    <Card title="New team">
                                        <ActionForm action=create attr:class="space-y-4">
                                            <FormError error/>
                                            <Field label="Name" name="name" required=true error hint="Lowercase letters, digits and . _ - between them."/>
                                            <Field label="Description" name="description" error/>
                                            <Submit label="Create team" busy_label="Creating…" pending=create.pending()/>
                                        </ActionForm>
                                    </Card>
                                })}
                            </div>
            })}
        }
    })
}

#[component]
pub fn TeamPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let add = ServerAction::<AddMember>::new();
    let role = ServerAction::<SetMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let delete = ServerAction::<DeleteTeam>::new();
    let query = use_query_map();
    let pages = Memo::new(move |_| (page_number(&query.read(), "page"), page_number(&query.read(), "ns_page")));
    let detail = Resource::new(
        move || (name.get(), pages.get(), add.version().get(), role.version().get(), remove.version().get()),
        |(n, (page, ns_page), ..)| get_team(n, Some(page), Some(ns_page)),
    );
    signed_in(move |_| loaded(detail, move |d| view! { <TeamDetailView d add role remove delete/> }))
}

#[component]
fn TeamDetailView(
    d: TeamDetail,
    add: ServerAction<AddMember>,
    role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
    delete: ServerAction<DeleteTeam>,
) -> impl IntoView {
    let t = d.team;
    let team = t.name.clone();
    let add_error = action_error(add);
    let member_error = Signal::derive(move || action_error(role).get().or_else(|| action_error(remove).get()));
    let delete_error = action_error(delete);
    let manage = d.can_manage;
    let (members_page, ns_page) = (d.members.page, d.namespaces.page);
    let member_pager = {
        let team = team.clone();
        pager(&d.members, move |p| format!("/teams/{team}?page={p}&ns_page={ns_page}"))
    };
    let ns_pager = {
        let team = team.clone();
        pager(&d.namespaces, move |p| format!("/teams/{team}?page={members_page}&ns_page={p}"))
    };
    let members = d
        .members
        .items
        .into_iter()
        .map(|m| view! { <MemberRow m team=team.clone() manage role remove/> })
        .collect_view();
    let namespaces = d.namespaces.items;
    let (team_add, team_del, team_q) = (team.clone(), team.clone(), team.clone());
    view! {
        <Title text=t.name.clone()/>
        <PageHeader title=format!("Team {}", t.name) subtitle=t.description.clone()>
            {t.role.map(role_badge)}
        </PageHeader>
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <section>
                    <h2 class="mb-3 text-base font-semibold text-slate-900">"Members"</h2>
                    <div class="mb-3"><FormError error=member_error/></div>
                    <Table head=vec!["User", "Role", "Member since", ""]>{members}</Table>
                    {member_pager}
                </section>
                <section>
                    <div class="mb-3 flex items-center justify-between">
                        <h2 class="text-base font-semibold text-slate-900">"Namespaces"</h2>
                        {d.can_create_namespace.then(|| view! { <a class=BUTTON_SMALL href="/namespaces">"New namespace"</a> })}
                    </div>
                    {if namespaces.is_empty() {
                        view! {
                            <EmptyState title="This team has no namespaces yet">
                                <p>"Create one on the Namespaces page and choose this team as its owner."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <Table head=vec!["Namespace", "Visibility"]>
                                {namespaces.into_iter().map(|n| n.namespace).map(|n| view! {
                                    <tr>
                                        <td class=TD><a class=LINK href=format!("/namespaces/{}", n.name)>{n.name.clone()}</a></td>
                                        <td class=TD>{visibility_badge(n.visibility)}</td>
                                    </tr>
                                }).collect_view()}
                            </Table>
                            {ns_pager}
                        }.into_any()
                    }}
                </section>
            </div>
            <div class="space-y-6">
                {manage.then(|| view! {
                    <Card title="Add a member">
                        <ActionForm action=add attr:class="space-y-4">
                            <FormError error=add_error/>
                            <input type="hidden" name="team" value=team_add.clone()/>
                            <Field label="Username" name="username" required=true error=add_error/>
                            <div>
                                <label for="field-role" class="mb-1 block text-sm font-medium text-slate-700">"Role"</label>
                                <select id="field-role" name="role" class=format!("{SELECT} w-full")>
                                    {TeamRole::ALL.iter().map(|r| view! {
                                        <option value=r.as_str()>{format!("{} — {}", r.as_str(), r.describe())}</option>
                                    }).collect_view()}
                                </select>
                            </div>
                            <Submit label="Add member" busy_label="Adding…" pending=add.pending()/>
                        </ActionForm>
                    </Card>
                    <Card title="Danger zone">
                        <FormError error=delete_error/>
                        <ConfirmAction action=delete label="Delete team…" start=true question=format!("Delete team {}? Its namespaces must be moved or deleted first.", team_q) yes="Yes, delete the team">
                            <input type="hidden" name="team" value=team_del.clone()/>
                        </ConfirmAction>
                    </Card>
                })}
            </div>
        </div>
    }
}

/// One member of a team, with the role control and the remove button for those who manage it.
#[component]
fn MemberRow(
    m: crate::model::TeamMemberView,
    team: String,
    manage: bool,
    role: ServerAction<SetMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let team2 = team.clone();
    let label = format!("Role of {}", m.username);
    let question = format!("Remove {} from {}?", m.username, team);
    view! {
        <tr>
            <td class=TD>
                <span class="font-medium text-slate-900">{m.username.clone()}</span>
                {m.is_bot.then(|| view! { <span class="ml-2"><Badge text="bot" tone=Tone::Amber/></span> })}
                {m.synced.then(|| view! {
                    <span class="ml-2" title="Added by a directory group mapping: leaves the team when they leave the group. Changing the role here makes the membership this team's own.">
                        <Badge text="directory group" tone=Tone::Blue/>
                    </span>
                })}
            </td>
            <td class=TD>
                {if manage {
                    view! {
                        <ActionForm action=role attr:class="flex items-center gap-2">
                            <input type="hidden" name="team" value=team.clone()/>
                            <input type="hidden" name="user_id" value=m.user_id/>
                            <select name="role" class=SELECT aria-label=label.clone()>
                                {TeamRole::ALL.iter().rev().map(|r| view! {
                                    <option value=r.as_str() selected=*r == m.role>{r.as_str()}</option>
                                }).collect_view()}
                            </select>
                            <button type="submit" class=BUTTON_SMALL>"Change"</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    role_badge(m.role).into_any()
                }}
            </td>
            <td class=TD>{time_view(m.since)}</td>
            <td class=format!("{TD} text-right")>
                {manage.then(|| view! {
                    <ConfirmAction action=remove label="Remove" question=question.clone() yes="Yes, remove">
                        <input type="hidden" name="team" value=team2.clone()/>
                        <input type="hidden" name="user_id" value=m.user_id/>
                    </ConfirmAction>
                })}
            </td>
        </tr>
    }
}
