//! Finding images: explore (public images, for visitors too) and search.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::super::components::*;
use super::{label_chips, RepositoryTable};
use crate::api::images::{explore, search};
use crate::model::short_digest;

/// Public images, for everyone including visitors.
#[component]
pub fn ExplorePage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let page = Memo::new(move |_| page_number(&query.read(), "page"));
    let data = Resource::new(move || page.get(), |page| explore(Some(page)));
    view! {
        <Title text="Explore"/>
        <PageHeader title="Explore" subtitle="Public images: anyone may pull them, even without an account."/>
        {loaded(data, |list| {
            let pager = pager(&list, |p| format!("/explore?page={p}"));
            view! {
                <RepositoryTable repositories=list.items empty_title="No public images yet">
                    <p>"Repositories in public namespaces (and the global namespace) appear here."</p>
                </RepositoryTable>
                {pager}
            }
        })}
    }
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u32>().ok()));
    let results = Resource::new(move || (q.get(), page.get()), |(q, page)| search(q, page));
    view! {
        <Title text="Search"/>
        <PageHeader title="Search" subtitle="Namespaces, repositories, tags and labels you may see."/>
        <form method="get" action="/search" class="mb-6 flex max-w-xl gap-2" role="search">
            <input name="q" value=move || q.get() class=INPUT placeholder="Search images…" aria-label="Search"/>
            <button type="submit" class=BUTTON>"Search"</button>
        </form>
        {loaded(results, move |r| {
            let term = q.get_untracked();
            match r {
                // A pull reference names one tag: its page.
                r if r.named.is_some() => view! { <leptos_router::components::Redirect path=format!("/tags/{}", r.named.unwrap_or_default())/> }.into_any(),
                _ if term.trim().is_empty() => view! { <p class="text-sm text-slate-500">"Type a name, a tag, a word of a label, or key=value for a label."</p> }.into_any(),
                r if r.namespaces.is_empty() && r.repositories.is_empty() && r.tags.is_empty() => view! {
                    <EmptyState title="Nothing found"><p>{format!("Nothing you may see matches “{term}”.")}</p>
                        <p>"One or two characters find tags by their exact name; parts of names and labels, three or more. A pull reference (repository:tag) finds its tag."</p></EmptyState>
                }.into_any(),
                r => view! {
                    <SearchPager term=term.clone() page=r.page more=r.more/>
                    <div class="space-y-8">
                        {(term.trim().chars().count() < 3).then(|| view! {
                            <p class="text-sm text-slate-500">"One or two characters find tags by their exact name; parts of names and labels, three or more."</p>
                        })}
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
                                    {r.namespaces.iter().map(|n| &n.namespace).map(|n| view! {
                                        <li><a class=LINK href=format!("/namespaces/{}", n.name)>{n.name.clone()}</a> " " {visibility_badge(n.visibility)}</li>
                                    }).collect_view()}
                                </ul></section>
                        })}
                    </div>
                    <SearchPager term=term.clone() page=r.page more=r.more/>
                }.into_any(),
            }
        })}
    }
}

/// Earlier and later results of a search.
#[component]
fn SearchPager(term: String, page: u32, more: bool) -> impl IntoView {
    let href = move |p: u32| format!("/search?q={}&page={p}", crate::ui::urlencode(&term));
    (page > 1 || more).then(|| {
        let (prev, next) = ((page > 1).then(|| href(page - 1)), more.then(|| href(page + 1)));
        view! { <div class="mb-4"><PrevNext label=format!("Page {page}") prev next/></div> }
    })
}
