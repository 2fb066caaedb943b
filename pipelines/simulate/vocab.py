"""The sample shop's vocabulary: latent item attributes and the words people use for them.

A poster/wallpaper shop sells items that have a product type, a colour palette, a motif and a place.
Customers search in their own language (Swedish, German, English) and mix in English words; the
merchandiser tags items in English, from a different vocabulary, and often forgets the palette. So
the words customers use for an item are only partly in its ``tags``: that gap is what the core model
has to learn from behaviour. Plain data, no logic.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("en", "sv", "de")

# attribute value -> (english, swedish, german) search word
PALETTES: dict[str, tuple[str, str, str]] = {
    "sunset": ("sunset", "solnedgång", "sonnenuntergang"),
    "ocean": ("ocean", "hav", "meer"),
    "forest": ("forest green", "skogsgrön", "waldgrün"),
    "monochrome": ("black and white", "svartvit", "schwarz weiss"),
    "pastel": ("pastel", "pastell", "pastell"),
    "terracotta": ("terracotta", "terrakotta", "terrakotta"),
    "neon": ("neon", "neon", "neon"),
    "golden": ("gold", "guld", "gold"),
    "lavender": ("lavender", "lavendel", "lavendel"),
    "mint": ("mint", "mintgrön", "mintgrün"),
}

MOTIFS: dict[str, tuple[str, str, str]] = {
    "landscape": ("landscape", "landskap", "landschaft"),
    "botanical": ("leaves", "blad", "blätter"),
    "abstract": ("abstract", "abstrakt", "abstrakt"),
    "animals": ("animals", "djur", "tiere"),
    "skyline": ("skyline", "stadssiluett", "skyline"),
    "geometric": ("geometric", "geometrisk", "geometrisch"),
    "typography": ("quote", "citat", "zitat"),
    "map": ("map", "karta", "karte"),
}

PLACES: dict[str, tuple[str, str, str]] = {
    "stockholm": ("stockholm", "stockholm", "stockholm"),
    "berlin": ("berlin", "berlin", "berlin"),
    "paris": ("paris", "paris", "paris"),
    "tokyo": ("tokyo", "tokyo", "tokio"),
    "new_york": ("new york", "new york", "new york"),
    "alps": ("alps", "alperna", "alpen"),
    "lapland": ("lapland", "lappland", "lappland"),
    "sahara": ("desert", "öken", "wüste"),
    "amalfi": ("italy", "italien", "italien"),
    "iceland": ("iceland", "island", "island"),
}

PRODUCT_TYPES: dict[str, tuple[str, str, str]] = {
    "poster": ("poster", "poster", "poster"),
    "wallpaper": ("wallpaper", "tapet", "tapete"),
    "canvas": ("canvas", "canvastavla", "leinwand"),
    "framed_print": ("framed print", "inramad tavla", "gerahmt"),
    "mural": ("mural", "fototapet", "fototapete"),
}
PRODUCT_TYPE_PRICE: dict[str, float] = {
    "poster": 24.0, "wallpaper": 49.0, "canvas": 79.0, "framed_print": 59.0, "mural": 119.0,
}

# The merchandiser's English tags: a different, coarser vocabulary than the customers' words.
MOTIF_TAGS: dict[str, str] = {
    "landscape": "nature, scenery", "botanical": "nature, plants", "abstract": "art, modern",
    "animals": "nature, wildlife", "skyline": "city, architecture", "geometric": "art, pattern",
    "typography": "text, quote", "map": "travel, map",
}
PLACE_TAGS: dict[str, str] = {
    "stockholm": "stockholm, scandinavia", "berlin": "berlin, germany", "paris": "paris, france",
    "tokyo": "tokyo, japan", "new_york": "new york, usa", "alps": "mountains, alps",
    "lapland": "north, lapland", "sahara": "sahara, africa", "amalfi": "amalfi, italy",
    "iceland": "iceland, north",
}
PALETTE_TAGS: dict[str, str] = {  # when the merchandiser remembers the palette at all
    "sunset": "sunset", "ocean": "blue", "forest": "green", "monochrome": "black and white",
    "pastel": "pastel", "terracotta": "terracotta", "neon": "neon", "golden": "gold",
    "lavender": "purple", "mint": "mint",
}

# Markets: language of their queries, how often a query word is English instead, preferred palettes.
MARKETS: dict[str, dict] = {
    "se": {"language": "sv", "english_mix": 0.35, "share": 0.45,
           "palette_boost": ("monochrome", "forest", "mint", "ocean")},
    "de": {"language": "de", "english_mix": 0.25, "share": 0.40,
           "palette_boost": ("terracotta", "golden", "forest", "sunset")},
    "uk": {"language": "en", "english_mix": 1.0, "share": 0.15,
           "palette_boost": ("neon", "pastel", "sunset", "lavender")},
}

PALETTE_NAMES: tuple[str, ...] = tuple(PALETTES)
MOTIF_NAMES: tuple[str, ...] = tuple(MOTIFS)
PLACE_NAMES: tuple[str, ...] = tuple(PLACES)
TYPE_NAMES: tuple[str, ...] = tuple(PRODUCT_TYPES)
MARKET_NAMES: tuple[str, ...] = tuple(MARKETS)
