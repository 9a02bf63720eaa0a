"""The knowledge base's routes on the real local stack (issue 14): the demo shop's seeded articles, found as a
visitor types in English and French, never another workspace's or a draft, and bad input named."""
import urllib.parse


def search(stack, site_key: str, q: str, **params) -> tuple[int, dict]:
    query = urllib.parse.urlencode({"site_key": site_key, "q": q, **params})
    return stack.request("GET", f"/v1/articles/search?{query}")


def test_the_demo_shop_answers_as_its_visitor_types_in_both_languages(stack):
    status, english = search(stack, "demo", "how long does deliv")  # the last word is still being typed
    assert status == 200 and english["abstained"] is False, english
    assert english["items"] and all(set(i) >= {"id", "title", "snippet", "score"} for i in english["items"])
    status, french = search(stack, "demo", "delai de livraison", locale="fr-FR")
    assert status == 200 and french["items"][0]["title"] == "Délais de livraison", french
    status, accented = search(stack, "demo", "délai de livraison", locale="fr")
    assert [i["id"] for i in accented["items"]] == [i["id"] for i in french["items"]]
    status, article = stack.request("GET", f"/v1/sites/demo/articles/{french['items'][0]['id']}")
    assert status == 200 and article["locale"] == "fr" and "**" in article["body"]  # Markdown, for the client


def test_unrelated_questions_abstain_and_other_workspaces_see_nothing(stack, logins):
    status, weather = search(stack, "demo", "will it rain in paris tomorrow")
    assert status == 200 and weather == {"items": [], "abstained": True}
    status, elsewhere = search(stack, "demo-b", "how long does delivery take")  # Other Company: no articles
    assert status == 200 and elsewhere["items"] == []
    _, english = search(stack, "demo", "delivery")
    status, _ = stack.request("GET", f"/v1/sites/demo-b/articles/{english['items'][0]['id']}")
    assert status == 404
    status, listed = stack.request("GET", "/v1/articles", token=logins["b"]["token"])
    assert status == 200 and listed["items"] == []
    status, ours = stack.request("GET", "/v1/articles?locale=fr&limit=5", token=logins["agent"]["token"])
    assert status == 200 and len(ours["items"]) == 5 and ours["next_cursor"]


def test_bad_input_is_a_bad_request_naming_the_field(stack, logins):
    for params, field in (({"site_key": "demo"}, "q"), ({"site_key": "demo", "q": "x", "limit": 0}, "limit"),
                          ({"q": "delivery"}, "site_key")):
        status, body = stack.request("GET", "/v1/articles/search?" + urllib.parse.urlencode(params))
        assert status == 400 and body["error"]["field"] == field, (params, body)
    status, body = stack.request("POST", "/v1/articles", {"title": "x", "body": "y", "locale": "en"},
                                 token=logins["agent"]["token"])
    assert status == 403, body  # agents read articles; admins write them
    status, body = stack.request("POST", "/v1/articles", {"title": "x", "body": "y", "locale": "de"},
                                 token=logins["admin"]["token"])
    assert status == 400 and body["error"]["field"] == "locale"
