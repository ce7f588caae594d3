package dev.tiergate.policy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RouterTest {
    private final Router router = new Router(
            PolicyLoader.parse(
                    "p.yaml", PolicyLoaderTest.ISSUE_POLICY, PolicyLoaderTest.CATALOG, PolicyLoaderTest.TODAY),
            PolicyLoaderTest.CATALOG);

    private RoutingDecision.Route route(String task, RequestFacts facts) {
        RoutingDecision d = router.route(task, facts);
        assertThat(d).isInstanceOf(RoutingDecision.Route.class);
        return (RoutingDecision.Route) d;
    }

    @Test
    void taskTypeGoesToItsTierWithTheSmallerOfRequestedAndCap() {
        RoutingDecision.Route r = route("synthesis", RequestFacts.of(1_000, 8_000));
        assertThat(r.tier()).isEqualTo("frontier");
        assertThat(r.model()).isEqualTo("claude-opus-4-6");
        assertThat(r.fallbacks()).containsExactly("claude-opus-4-5-20251101");
        assertThat(r.maxTokens()).isEqualTo(2_000);
        assertThat(r.capped()).isTrue();
        assertThat(r.reasons()).anyMatch(s -> s.contains("capped to 2000"));
    }

    @Test
    void requestBelowTheCapKeepsItsOwnMaxTokens() {
        RoutingDecision.Route r = route("extraction", RequestFacts.of(500, 120));
        assertThat(r.model()).isEqualTo("claude-haiku-4-5-20251001");
        assertThat(r.maxTokens()).isEqualTo(120);
        assertThat(r.capped()).isFalse();
    }

    @Test
    void requestWithoutMaxTokensGetsTheTaskCap() {
        assertThat(route("classification", RequestFacts.withoutMaxTokens(50)).maxTokens())
                .isEqualTo(10);
    }

    @Test
    void unknownAndUnclassifiedTaskTypesGoToTheDefaultTier() {
        RoutingDecision.Route r = route("poetry", RequestFacts.of(100, 700));
        assertThat(r.tier()).isEqualTo("small");
        assertThat(r.maxTokens()).isEqualTo(700);
        assertThat(route(Policy.UNCLASSIFIED, RequestFacts.of(100, 5)).tier()).isEqualTo("small");
    }

    @Test
    void veryLongInputIsPromotedByTheRuleButKeepsTheTaskCap() {
        RoutingDecision.Route r = route("extraction", RequestFacts.of(150_001, 5_000));
        assertThat(r.tier()).isEqualTo("frontier");
        assertThat(r.model()).isEqualTo("claude-opus-4-6");
        assertThat(r.maxTokens()).isEqualTo(300);
        assertThat(r.reasons()).anyMatch(s -> s.contains("rule at line 10"));
        assertThat(route("extraction", RequestFacts.of(150_000, 5_000)).tier()).isEqualTo("small");
    }

    @Test
    void inputBeyondTheContextWindowIsRejected() {
        RoutingDecision d = router.route("synthesis", RequestFacts.of(1_000_001, 10));
        assertThat(d)
                .isInstanceOfSatisfying(
                        RoutingDecision.Reject.class,
                        r -> assertThat(r.reason()).contains("1000001").contains("claude-opus-4-6"));
    }

    @Test
    void withoutDefaultTierUnknownTaskTypesAreRejected() {
        Router strict = new Router(
                PolicyLoader.parse(
                        "p.yaml",
                        "tiers:\n  small: { model: claude-haiku-4-5 }\ntask_types:\n  x: { tier: small, max_tokens: 5 }\n",
                        PolicyLoaderTest.CATALOG,
                        PolicyLoaderTest.TODAY),
                PolicyLoaderTest.CATALOG);
        assertThat(strict.route("y", RequestFacts.of(1, 1)))
                .isInstanceOfSatisfying(
                        RoutingDecision.Reject.class,
                        r -> assertThat(r.reason())
                                .contains("'y' is not in the policy")
                                .contains("[x]"));
    }

    @Test
    void unknownTaskWithoutAnyMaxTokensIsRejected() {
        assertThat(router.route("poetry", RequestFacts.withoutMaxTokens(10)))
                .isInstanceOfSatisfying(
                        RoutingDecision.Reject.class,
                        r -> assertThat(r.reason()).contains("default_max_tokens"));
    }

    @Test
    void aRequestCanNameItsTierAndKeepsTheTaskCap() {
        RoutingDecision.Route r =
                (RoutingDecision.Route) router.routeToTier("frontier", "extraction", RequestFacts.of(10, 900));
        assertThat(r.model()).isEqualTo("claude-opus-4-6");
        assertThat(r.maxTokens()).isEqualTo(300);
        assertThat(router.routeToTier("medium", "x", RequestFacts.of(1, 1)))
                .isInstanceOfSatisfying(
                        RoutingDecision.Reject.class,
                        j -> assertThat(j.reason()).contains("unknown tier 'medium'"));
    }
}
