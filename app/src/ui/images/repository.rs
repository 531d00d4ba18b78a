//! The repository page: its tags, filtered, sorted and paged on the server, each with its
//! pull line and what deleting it takes with it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::super::components::*;
use super::super::{signed_in_or_visitor, urlencode};
use super::history::TagHistoryCard;
use super::{delete_fields, delete_question, label_chips};
use crate::api::images::{
    get_repository, DeleteRepository, DeleteTag, RepositoryPageData, RestoreTag, UpdateRepository,
};
use crate::model::{human_size, TagView};

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
    let restore = ServerAction::<RestoreTag>::new();
    let data = Resource::new(
        move || {
            (name.get(), filters.get(), update.version().get(), delete_tag.version().get(), restore.version().get())
        },
        |(n, (tag, label, sort, page), _, _, _)| get_repository(n, tag, label, sort, page),
    );
    let cleanup = crate::ui::cleanup::Cleanup::new(move || (String::new(), Some(name.get())));
    signed_in_or_visitor(move |_| {
        loaded(data, move |d| view! { <RepositoryView d filters update delete_repo delete_tag restore cleanup/> })
    })
}

#[component]
fn RepositoryView(
    d: RepositoryPageData,
    filters: Memo<(String, String, String, u32)>,
    update: ServerAction<UpdateRepository>,
    delete_repo: ServerAction<DeleteRepository>,
    delete_tag: ServerAction<DeleteTag>,
    restore: ServerAction<RestoreTag>,
    cleanup: crate::ui::cleanup::Cleanup,
) -> impl IntoView {
    let r = d.repository;
    let history = d.history;
    let can_push = d.can_push;
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
                <ConfirmAction action=delete_repo label="Delete repository…" question=format!("Delete {} and all its {} tag(s) from the registry? This cannot be undone.", n1, r.tag_count) yes="Yes, delete everything">
                    <input type="hidden" name="name" value=n2.clone()/>
                </ConfirmAction>
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
        {(!history.is_empty()).then(|| view! {
            <div class="mt-6 max-w-3xl">
                <TagHistoryCard repository=name.clone() moves=history.clone() can_push restore show_tags=true/>
            </div>
        })}
        {r.namespace.clone().filter(|_| d.can_manage_cleanup).map(|ns| view! {
            <div class="mt-6 max-w-3xl">
                <super::super::cleanup::CleanupCard state=cleanup namespace=ns repository=name.clone()/>
            </div>
        })}
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
                    <ConfirmAction action=delete_tag label="Delete…" question=question.clone() yes="Yes, delete">
                        {fields}
                    </ConfirmAction>
                })}
            </td>
        </tr>
    }
}
