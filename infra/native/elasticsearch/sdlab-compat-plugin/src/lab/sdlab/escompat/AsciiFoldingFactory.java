package lab.sdlab.escompat;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;

/** asciifolding token filter (setting: preserve_original=false); also usable in normalizers. */
final class AsciiFoldingFactory implements NormalizingTokenFilterFactory {

    private final String name;
    private final boolean preserveOriginal;

    AsciiFoldingFactory(String name, Settings settings) {
        this.name = name;
        this.preserveOriginal = settings.getAsBoolean("preserve_original", false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public TokenStream create(TokenStream in) {
        return new ASCIIFoldingFilter(in, preserveOriginal);
    }
}
