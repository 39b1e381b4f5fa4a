package lab.sdlab.escompat;

import org.apache.lucene.util.SetOnce;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Local-test plugin for the Maven Central "integ-test-zip" Elasticsearch distribution, which ships without the
 * rest-root and analysis-common modules. Adds back, with our own small implementations:
 * <ul>
 *   <li>GET / and HEAD / (what the clients' info() and ping() call),</li>
 *   <li>the {@code edge_ngram} tokenizer and token filter (suggest-as-you-type analyzers),</li>
 *   <li>the {@code asciifolding} token filter.</li>
 * </ul>
 * Settings names and defaults follow the Elasticsearch reference docs, so index definitions written against a
 * full Elasticsearch work unchanged here.
 */
public class SdlabCompatPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {

    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        Settings settings,
        NamedWriteableRegistry namedWriteableRegistry,
        RestController restController,
        ClusterSettings clusterSettings,
        IndexScopedSettings indexScopedSettings,
        SettingsFilter settingsFilter,
        IndexNameExpressionResolver indexNameExpressionResolver,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootInfoRestHandler(settings, clusterService::get));
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("edge_ngram", (indexSettings, env, name, settings) -> EdgeNGramFactories.tokenizer(name, settings));
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "edge_ngram", (indexSettings, env, name, settings) -> EdgeNGramFactories.filter(name, settings),
            "asciifolding", (indexSettings, env, name, settings) -> new AsciiFoldingFactory(name, settings)
        );
    }
}
