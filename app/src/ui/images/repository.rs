//! The repository page: its tags, filtered, sorted and paged on the server, each with its
//! pull line and what deleting it takes with it. Its history and settings are pages of
//! their own (other sections of the site's code: see app::ui's `lazy_sections!`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::super::components::*;
use super::super::{urlencode, RepositoryPath};
use super::{delete_fields, delete_question, label_chips, repository_header, repository_name};
use crate::api::images::{get_repository, DeleteTag};
use crate::model::{human_size, RepositoryTagsView, TagView};

#[component]
pub fn RepositoryPage() -> impl IntoView {
    let query = use_query_map();
    let name = repository_name();
    let q = move |k: &str| query.read().get(k).unwrap_or_default();
    let filters = Memo::new(move |_| (q("tag"), q("label"), q("sort"), q("page").parse::<u32>().unwrap_or(1).max(1)));
    let delete_tag = Post::new::<DeleteTag>();
    let data = Resource::new(
        move || (name.get(), filters.get(), delete_tag.version()),
        |(n, (tag, label, sort, page), _)| get_repository(n, tag, label, sort, page),
    );
    loaded(data, move |d| view! { <RepositoryView d filters delete_tag/> })
}

#[component]
fn RepositoryView(
    d: RepositoryTagsView,
    filters: Memo<(String, String, String, u32)>,
    delete_tag: Post,
) -> impl IntoView {
    let name = d.head.name.clone();
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
    let del_error = delete_tag.error();
    let (page, pages, total) = (d.tags.page, d.tags.pages(), d.tags.total);
    let can_delete = d.head.abilities.delete;
    // A line that works as pasted: the newest tag shown here (no `<tag>` for a shell to read
    // as a redirection).
    let newest = d.tags.items.iter().max_by_key(|t| t.pushed_at).map_or("latest", |t| t.name.as_str());
    let pull_line = format!("docker pull {host}/{name}:{newest}");
    // For those who may push: the same reference, pushed (a new tag is the same line with
    // another name after the colon).
    let push_line = d.head.abilities.push.then(|| format!("docker push {host}/{name}:{newest}"));
    let rows = d.tags.items.into_iter().map(|t| tag_row(&name, &host, t, can_delete, delete_tag)).collect_view();
    let here = RepositoryPath::TAGS.of(&name);
    view! {
        {repository_header(&d.head, RepositoryPath::TAGS)}
        <div class="mb-6 max-w-2xl space-y-2">
            <CopyLine command=pull_line/>
            {push_line.map(|command| view! { <CopyLine command/> })}
        </div>
        <FormError error=del_error/>
        <form method="get" action=here.clone() class="mb-4 flex flex-wrap items-end gap-3">
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Tag"</span>
                <input name="tag" value=tag_q class=INPUT placeholder="name contains…"/></label>
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Label"</span>
                <input name="label" value=label_q class=INPUT placeholder="key=value"/></label>
            <label class="text-sm"><span class="mb-1 block font-medium text-slate-700">"Sort"</span>
                <select name="sort" class=format!("block h-[2.375rem] {SELECT}")>
                    <option value="pushed" selected=sort_q != "name">"Newest push first"</option>
                    <option value="name" selected=sort_q == "name">"Tag name"</option>
                </select></label>
            <button type="submit" class=BUTTON_SECONDARY>"Apply"</button>
            {filtered.then(|| view! { <a class=BUTTON_SECONDARY href=here.clone()>"Clear"</a> })}
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
    }
}

fn tag_row(repo: &str, host: &str, t: TagView, can_delete: bool, delete_tag: Post) -> impl IntoView {
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
                <div class="mt-1 w-full min-w-56 max-w-md"><CopyLine command=pull/></div>
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
                    <p class="mt-1 text-xs text-slate-500">{format!("Same image as {}", shared.join(", "))}</p>
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
                    <ConfirmPost post=delete_tag label="Delete…" question=question.clone() yes="Yes, delete">
                        {fields}
                    </ConfirmPost>
                })}
            </td>
        </tr>
    }
}
