package lab.sdlab.escompat;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenizer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;

import java.util.List;
import java.util.Locale;
import java.util.function.IntPredicate;

/**
 * edge_ngram tokenizer (settings: min_gram=1, max_gram=2, token_chars=[], custom_token_chars="")
 * and edge_ngram token filter (settings: min_gram=1, max_gram=2, preserve_original=false).
 */
final class EdgeNGramFactories {

    private EdgeNGramFactories() {}

    static TokenizerFactory tokenizer(String name, Settings settings) {
        int minGram = settings.getAsInt("min_gram", 1);
        int maxGram = settings.getAsInt("max_gram", 2);
        checkGrams(minGram, maxGram);
        IntPredicate tokenChar = tokenChars(settings.getAsList("token_chars"), settings.get("custom_token_chars", ""));
        return TokenizerFactory.newFactory(name, () -> {
            if (tokenChar == null) {
                return new EdgeNGramTokenizer(minGram, maxGram);
            }
            Tokenizer t = new EdgeNGramTokenizer(minGram, maxGram) {
                @Override
                protected boolean isTokenChar(int chr) {
                    return tokenChar.test(chr);
                }
            };
            return t;
        });
    }

    static TokenFilterFactory filter(String name, Settings settings) {
        int minGram = settings.getAsInt("min_gram", 1);
        int maxGram = settings.getAsInt("max_gram", 2);
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", false);
        checkGrams(minGram, maxGram);
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream in) {
                return new EdgeNGramTokenFilter(in, minGram, maxGram, preserveOriginal);
            }

            @Override
            public boolean breaksFastVectorHighlighter() {
                return true;
            }
        };
    }

    private static void checkGrams(int minGram, int maxGram) {
        if (minGram < 1 || maxGram < minGram) {
            throw new IllegalArgumentException("edge_ngram: need 1 <= min_gram <= max_gram, got min_gram=" + minGram + " max_gram=" + maxGram);
        }
    }

    /** null = every character is a token character (the Elasticsearch default for an empty token_chars). */
    private static IntPredicate tokenChars(List<String> classes, String custom) {
        if (classes == null || classes.isEmpty()) {
            return null;
        }
        IntPredicate p = c -> false;
        for (String cls : classes) {
            IntPredicate q;
            switch (cls.toLowerCase(Locale.ROOT)) {
                case "letter" -> q = Character::isLetter;
                case "digit" -> q = Character::isDigit;
                case "whitespace" -> q = Character::isWhitespace;
                case "punctuation" -> q = c -> switch (Character.getType(c)) {
                    case Character.START_PUNCTUATION, Character.END_PUNCTUATION, Character.OTHER_PUNCTUATION,
                        Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION,
                        Character.FINAL_QUOTE_PUNCTUATION -> true;
                    default -> false;
                };
                case "symbol" -> q = c -> switch (Character.getType(c)) {
                    case Character.CURRENCY_SYMBOL, Character.MATH_SYMBOL, Character.OTHER_SYMBOL, Character.MODIFIER_SYMBOL -> true;
                    default -> false;
                };
                case "custom" -> q = c -> custom.indexOf(c) >= 0;
                default -> throw new IllegalArgumentException(
                    "edge_ngram: unknown token_chars class [" + cls + "], expected letter, digit, whitespace, punctuation, symbol or custom");
            }
            p = p.or(q);
        }
        return p;
    }
}
