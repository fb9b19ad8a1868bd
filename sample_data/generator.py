"""Seeded, fully vectorised generator of retail sample data with planted, known structure.

The generator writes the six canonical tables (:mod:`shopper_tui.analytics.schema`) and a
few *truth* tables describing what was planted, so tests and benchmarks can check that the
engine recovers it:

* five latent shopper types (:data:`LATENT_TYPES`) with distinct recency / frequency /
  monetary profiles, category preferences (a Dirichlet draw around a base vector that
  favours two categories), device mix, price tilt, discount use and funnel rates;
* a funnel built bottom-up: every order is the last event of a purchase session, and the
  sessions that dropped off at checkout, cart and view are drawn per purchase / checkout /
  cart session with counts ``Poisson((1 - rate) / rate)``, so the expected step conversion
  of order-driven sessions equals the planted rate of the customer's type;
* one A/B experiment (:data:`EXPERIMENT`): from ``end - 4 months`` every session of a known
  customer carries the customer's seeded variant, and treatment raises checkout → purchase
  conversion by :data:`EXPERIMENT_UPLIFT` (absolute) for every type;
* reviews whose title and text agree with the rating, mention aspects (price, quality,
  service, shipping, fit) through :data:`ASPECT_SENTENCES`, and whose rating depends on a
  planted per-product quality; "lapsed_big_spenders" mention shipping and service more often
  and more negatively.

Sizes. ``orders_per_customer`` defaults to 8.0 at 5 000 customers and glides (log-linearly)
to 5.0 at 200 000 customers; ``reviews_per_customer`` from 1.6 to 1.0, giving ≈ 40 k orders /
8 k reviews at 5 000 customers and ≈ 1 M orders / 2.9 M lines / 200 k reviews at 200 000.
Events are not a knob: they follow from the orders and the funnel rates, ≈ 15-16 per order
(a purchase session alone logs an add-to-cart per line, a view before the first and about
half of the other items, checkout and purchase; a checkout→purchase rate near 55 % then
brings ≈ 0.8 abandoned checkout sessions per order, plus cart and view drop-offs).

Everything is drawn from one ``numpy.random.Generator`` in a fixed sequence and assembled
with Polars, so the same arguments give identical frames.
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..analytics.errors import ShopperError
from ..analytics.schema import TABLES

__all__ = [
    "SampleData",
    "LatentType",
    "LATENT_TYPES",
    "CATEGORIES",
    "ASPECT_SENTENCES",
    "EXPERIMENT",
    "EXPERIMENT_UPLIFT",
    "TRUTH_TABLES",
    "generate",
    "generate_to",
    "write",
    "main",
]

Progress = Callable[[str, "float | None"], None]

EXPERIMENT = "checkout_redesign"
EXPERIMENT_UPLIFT = 0.06
EXPERIMENT_MONTHS = 4
ANONYMOUS_SHARE = 0.15
TRUTH_TABLES = ("truth_customers", "truth_experiment", "truth_products")

_US = 1_000_000
_DAY = 86_400 * _US
_HOUR = 3_600 * _US
_MEAN_EVENT_GAP_S = 45.0

DEVICES = ("mobile", "desktop", "tablet")
CHANNELS = ("web", "app", "store")
STATUSES = ("completed", "cancelled", "returned")
STATUS_P = (0.93, 0.03, 0.04)
VIEW, SEARCH, ADD, REMOVE, CHECKOUT, PURCHASE = range(6)
EVENT_NAMES = ("view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase")

# Hour-of-day weights (local time): quiet nights, lunch bump, evening peak.
_HOUR_W = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 4, 4.5, 5, 6, 6, 5, 4.5, 4.5, 5, 6, 7.5, 8, 7, 4.5, 2.5]
)
_HOUR_P = _HOUR_W / _HOUR_W.sum()


# --------------------------------------------------------------------------------------
# Vocabulary: categories, products, people, review sentences
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """One product category: catalogue share, lognormal price, words for names and texts."""

    share: float
    median_price: float
    price_sigma: float
    subcategories: dict[str, tuple[str, ...]]
    adjectives: tuple[str, ...]
    brands: tuple[str, ...]
    uses: tuple[str, ...]
    features: tuple[str, ...]
    review_context: tuple[str, ...]
    has_fit: bool = False


CATEGORIES: dict[str, Category] = {
    "Outdoor": Category(
        0.10, 55.0, 0.7,
        {
            "Hiking": ("Backpack", "Trekking Poles", "Hiking Boots", "Daypack"),
            "Camping": ("Tent", "Sleeping Bag", "Camp Stove", "Headlamp"),
            "Climbing": ("Harness", "Chalk Bag", "Climbing Rope"),
            "Trail Running": ("Trail Running Shoes", "Running Vest", "Hydration Pack"),
        },
        ("Ultralight", "Alpine", "Waterproof", "Rugged", "Compact", "All-Season", "Expedition"),
        ("Northpeak", "Ridgeway", "Cairnline", "Wildroot", "Tundra Works", "Basecamp Supply"),
        ("built for long days on the trail", "ready for wet weekends outdoors",
         "packs down small for multi-day trips", "made for rocky terrain"),
        ("Recycled ripstop fabric.", "Taped seams keep the rain out.",
         "Weighs less than you would expect.", "Backed by a lifetime repair promise."),
        ("Took it on a three-day hike.", "Used it on a rainy camping weekend.",
         "Perfect for early morning trail runs."),
        has_fit=True,
    ),
    "Electronics": Category(
        0.13, 80.0, 0.8,
        {
            "Audio": ("Wireless Earbuds", "Bluetooth Speaker", "Noise-Cancelling Headphones",
                      "Soundbar"),
            "Computing": ("Mechanical Keyboard", "Wireless Mouse", "USB-C Hub", "Laptop Stand",
                          "Portable SSD"),
            "Mobile": ("Phone Charger", "Power Bank", "Phone Case", "Charging Cable"),
            "Smart Home": ("Smart Plug", "Video Doorbell", "Smart Bulb", "Wi-Fi Router"),
        },
        ("Pro", "Wireless", "Compact", "Smart", "Fast-Charging", "Ultra", "Dual-Band", "Slim"),
        ("Voltic", "Lumenex", "Arcwave", "Kinetix", "Pixelforge", "Soniq"),
        ("designed for work and play", "made for everyday carry",
         "built for a connected home", "tuned for long battery life"),
        ("Two-year warranty included.", "Charges over USB-C.",
         "Works with iOS and Android.", "Firmware updates over the air."),
        ("Setup took five minutes.", "Battery lasts all day.", "Pairs instantly with my phone."),
    ),
    "Home": Category(
        0.15, 35.0, 0.7,
        {
            "Kitchen": ("Chef's Knife", "Cast Iron Skillet", "French Press", "Cutting Board",
                        "Mixing Bowl Set"),
            "Bedding": ("Duvet Cover", "Pillow Set", "Linen Sheets", "Weighted Blanket"),
            "Decor": ("Table Lamp", "Wall Clock", "Ceramic Vase", "Throw Pillow"),
            "Storage": ("Storage Baskets", "Shoe Rack", "Drawer Organiser"),
        },
        ("Handcrafted", "Nordic", "Classic", "Minimalist", "Cozy", "Rustic", "Stoneware", "Oak"),
        ("Hearthstone", "Linden & Loom", "Casa Nova", "Oakhaven", "Dwellwise", "Brightnest"),
        ("made for everyday living", "designed for small spaces",
         "crafted to last for years", "an easy upgrade for any room"),
        ("Dishwasher safe.", "Made from responsibly sourced materials.",
         "Available in four colours.", "Easy to assemble."),
        ("Looks great in our living room.", "We use it every day in the kitchen.",
         "Fits our small apartment well."),
    ),
    "Beauty": Category(
        0.12, 19.0, 0.5,
        {
            "Skincare": ("Face Serum", "Moisturiser", "Cleanser", "Sunscreen SPF 50", "Eye Cream"),
            "Haircare": ("Shampoo", "Conditioner", "Hair Oil", "Styling Cream"),
            "Makeup": ("Lipstick", "Mascara", "Foundation", "Eyeshadow Palette"),
            "Fragrance": ("Eau de Parfum", "Body Mist"),
        },
        ("Hydrating", "Gentle", "Radiant", "Nourishing", "Matte", "Vitamin C", "Fragrance-Free",
         "Botanical"),
        ("Lumiere Lab", "Petal & Pine", "Glowhaus", "Dermaleaf", "Velvetine", "Aurelle"),
        ("for a fresh daily routine", "suitable for sensitive skin",
         "made with plant-based ingredients", "for a long-lasting finish"),
        ("Dermatologically tested.", "Cruelty-free and vegan.", "Recyclable packaging.",
         "Free from parabens."),
        ("My skin feels softer already.", "Lasts all day without smudging.",
         "The scent is subtle and pleasant."),
    ),
    "Fashion": Category(
        0.17, 38.0, 0.6,
        {
            "Tops": ("T-Shirt", "Linen Shirt", "Hoodie", "Knit Sweater"),
            "Bottoms": ("Slim Jeans", "Chinos", "Pleated Skirt", "Joggers"),
            "Outerwear": ("Rain Jacket", "Wool Coat", "Puffer Vest"),
            "Shoes": ("Leather Sneakers", "Chelsea Boots", "Loafers"),
            "Accessories": ("Leather Belt", "Wool Scarf", "Canvas Tote"),
        },
        ("Organic Cotton", "Relaxed", "Classic", "Tailored", "Vintage", "Merino", "Oversized",
         "Everyday"),
        ("Thread & Co", "Marlow", "Indigo Lane", "Ashford", "Kinfolk Supply", "Maison Verre"),
        ("cut for an easy everyday fit", "made to be worn all year",
         "designed in small batches", "a wardrobe staple"),
        ("Machine washable.", "Ethically made.", "Available in sizes XS to XXL.",
         "Pre-shrunk fabric."),
        ("Wore it to the office all week.", "Washes well without shrinking.",
         "Goes with everything in my wardrobe."),
        has_fit=True,
    ),
    "Grocery": Category(
        0.12, 6.5, 0.5,
        {
            "Pantry": ("Olive Oil", "Basmati Rice", "Pasta", "Granola", "Peanut Butter"),
            "Beverages": ("Ground Coffee", "Green Tea", "Sparkling Water", "Cold Brew"),
            "Snacks": ("Dark Chocolate", "Trail Mix", "Sea Salt Crisps", "Protein Bars"),
            "Fresh": ("Sourdough Bread", "Free-Range Eggs", "Greek Yogurt"),
        },
        ("Organic", "Extra Virgin", "Fair Trade", "Family Size", "Artisan", "Wholegrain",
         "Roasted", "Unsweetened"),
        ("Harvest Table", "Green Acre", "Daily Pantry", "Good Grain", "Orchard Lane",
         "Kettle & Crumb"),
        ("for everyday cooking", "sourced from small farms", "a pantry essential",
         "great for quick breakfasts"),
        ("No artificial additives.", "Resealable pack.", "Certified organic.",
         "Best before date at least six months."),
        ("Tastes fresh.", "Our kids love it for breakfast.", "A staple in our pantry now."),
    ),
    "Toys": Category(
        0.10, 24.0, 0.6,
        {
            "Building": ("Building Blocks Set", "Marble Run", "Magnetic Tiles"),
            "Games": ("Board Game", "Card Game", "Jigsaw Puzzle"),
            "Outdoor Play": ("Kick Scooter", "Water Blaster", "Kite"),
            "Plush": ("Plush Bear", "Plush Dinosaur"),
            "Learning": ("Science Kit", "Coding Robot", "Art Set"),
        },
        ("Deluxe", "Junior", "Classic", "Rainbow", "Creative", "Mini", "Giant", "Wooden"),
        ("Playnest", "Tinkerbox", "Bright Minds", "Wobbly Owl", "Jumpstart Toys", "Pebble & Pip"),
        ("for hours of creative play", "for ages 3 and up", "a favourite for family game night",
         "designed by teachers"),
        ("Non-toxic materials.", "Batteries not required.", "Comes in a gift box.",
         "Tested to EU toy safety standards."),
        ("My kids play with it every day.", "Kept the children busy for hours.",
         "Bought it as a birthday gift."),
    ),
    "Sports": Category(
        0.11, 32.0, 0.7,
        {
            "Fitness": ("Yoga Mat", "Dumbbell Set", "Resistance Bands", "Kettlebell",
                        "Foam Roller"),
            "Running": ("Running Shoes", "Running Shorts", "Sports Watch"),
            "Cycling": ("Bike Helmet", "Cycling Jersey", "Bike Lights"),
            "Team Sports": ("Football", "Basketball", "Tennis Racket", "Shin Guards"),
        },
        ("Pro", "Lightweight", "Performance", "Adjustable", "Non-Slip", "Breathable", "Training",
         "Competition"),
        ("Stridewell", "Apex Motion", "Corefit", "Velocity", "Pulse Athletics", "Kinetic Edge"),
        ("built for serious training", "made for home workouts", "for every level of athlete",
         "tested by club coaches"),
        ("Sweat-wicking materials.", "Includes a carry bag.", "Approved for competition.",
         "Two-year warranty."),
        ("Used it for my weekly training sessions.", "Great for home workouts.",
         "Held up well during a full season."),
        has_fit=True,
    ),
}
CATEGORY_NAMES = tuple(CATEGORIES)
# Price level of a subcategory relative to its category's median (cables cost less than
# headphones, coats more than T-shirts).
_SUBCATEGORY_PRICE = {
    "Camping": 1.3, "Climbing": 0.9, "Trail Running": 0.9,
    "Audio": 1.3, "Mobile": 0.35, "Smart Home": 0.9,
    "Kitchen": 0.9, "Bedding": 1.3, "Decor": 0.8, "Storage": 0.7,
    "Skincare": 1.2, "Haircare": 0.7, "Makeup": 0.9, "Fragrance": 2.5,
    "Tops": 0.6, "Outerwear": 2.2, "Shoes": 1.8, "Accessories": 0.6,
    "Beverages": 1.1, "Snacks": 0.7, "Fresh": 0.6,
    "Building": 1.4, "Games": 0.9, "Plush": 0.6, "Learning": 1.3,
    "Running": 1.4, "Cycling": 1.3, "Team Sports": 0.7,
}

ASPECTS = ("price", "quality", "service", "shipping", "fit")
#: Review sentences per aspect and polarity; tests and the reviews engine can look for them.
ASPECT_SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "price": {
        "positive": ("Great value for the price.", "Very reasonably priced.",
                     "Worth every penny.", "Excellent value for money."),
        "negative": ("Way overpriced for what you get.", "Not worth the price.",
                     "Far too expensive.", "Poor value for money."),
    },
    "quality": {
        "positive": ("The build quality is excellent.", "Feels solid and well made.",
                     "High quality materials.", "Still works perfectly after months of use."),
        "negative": ("The quality is poor.", "Broke after a week.", "Feels cheap and flimsy.",
                     "Started falling apart quickly."),
    },
    "service": {
        "positive": ("Customer service was friendly and helpful.",
                     "Support answered my question within an hour.",
                     "The service team sorted out my issue quickly.", "Great customer support."),
        "negative": ("Customer service was rude and unhelpful.",
                     "Support never answered my emails.", "Terrible customer service.",
                     "The service team was useless when I had a problem."),
    },
    "shipping": {
        "positive": ("Shipping was fast.", "Arrived a day early and well packaged.",
                     "Quick delivery, great tracking.", "Fast shipping and careful packaging."),
        "negative": ("Shipping was terribly slow.", "Delivery was late and disappointing.",
                     "Awful shipping, it took almost three weeks.",
                     "The package arrived damaged and late."),
    },
    "fit": {
        "positive": ("The size fits perfectly.", "True to size and very comfortable.",
                     "Great fit.", "Sizing was spot on."),
        "negative": ("Runs small, the size is wrong.", "The fit is awful.",
                     "Size was completely wrong.", "Too tight even in my usual size."),
    },
}
_OPENERS = {
    5: ("Absolutely love it.", "Exceeded my expectations.", "Best purchase I have made this year.",
        "Fantastic product, highly recommend."),
    4: ("Really good overall.", "Very happy with this purchase.",
        "Solid product, does the job well.", "Pretty great, with a small gripe or two."),
    3: ("It is okay.", "Mixed feelings about this one.", "Does the job, nothing special.",
        "Average, some good and some bad."),
    2: ("Not great, rather disappointed.", "Below my expectations.",
        "Would think twice before buying again.", "Not happy with this one."),
    1: ("Terrible, do not buy.", "Very disappointed with this purchase.",
        "Complete waste of money.", "Worst purchase in a long time."),
}
_TITLES = {
    5: ("Excellent!", "Love it", "Five stars", "Perfect", "Highly recommend"),
    4: ("Very good", "Great buy", "Happy with it", "Good purchase"),
    3: ("It's okay", "Average", "Mixed feelings", "Decent but not great"),
    2: ("Disappointing", "Not as expected", "Could be better", "Meh"),
    1: ("Awful", "Do not buy", "Waste of money", "Very poor"),
}
_CLOSERS = {
    5: ("Would buy again.", "Recommended to all my friends."),
    4: ("Would buy again.", "Recommended."),
    3: ("Might buy again on sale.", "It will do for now."),
    2: ("Would not recommend.", "Returning it."),
    1: ("Would not recommend.", "Returning it."),
}
# P(aspect sentence is positive | rating); rating 3 alternates positive and negative.
_P_POSITIVE = np.array([0.0, 0.05, 0.15, 0.5, 0.85, 0.95])
# Ordinal thresholds on a logistic latent: P(rating ≤ 1..4) = .07 .12 .22 .45 at latent 0.
_RATING_CUTS = np.log(np.array([0.07, 0.12, 0.22, 0.45]) / (1 - np.array([0.07, 0.12, 0.22, 0.45])))

_FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xena", "Yusuf", "Zoe", "Amir", "Bea", "Carlos", "Dana", "Emil", "Fatima", "Gabriel",
    "Hana", "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nora",
)
_LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Garcia", "Muller", "Rossi", "Dubois", "Jansen", "Nowak",
    "Silva", "Kim", "Tanaka", "Larsen", "Novak", "Evans", "Walker", "Moreau", "Schmidt",
    "Costa", "Fischer", "Lopez", "Murphy", "Okafor", "Patel", "Quist", "Reyes", "Singh",
    "Taylor", "Vogel", "Weber", "Young", "Zimmer", "Berg", "Clarke", "Diaz", "Hughes", "Ivanova",
    "Khan", "Lindqvist", "Meyer",
)
_COUNTRIES = ("US", "GB", "DE", "FR", "CA", "NL", "ES", "IT", "AU", "SE")
_COUNTRY_P = np.array([0.35, 0.15, 0.12, 0.08, 0.07, 0.05, 0.05, 0.05, 0.05, 0.03])
_GENDERS = ("F", "M", "X")
_GENDER_P = np.array([0.51, 0.46, 0.03])


# --------------------------------------------------------------------------------------
# Latent shopper types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentType:
    """One planted shopper type and the knobs that make it distinct.

    Orders per customer are ``order_fixed + Poisson(f · order_var · Gamma(4, 1/4))`` where
    ``f`` is solved so the population mean equals ``orders_per_customer`` (new browsers
    instead draw 0/1/2 orders with ``order_probs``). Order times fall in the customer's active
    window; ``recency_skew > 1`` pulls them towards its end.
    """

    name: str
    label: str
    share: float
    profile: dict[str, str]
    favourites: tuple[str, str]
    device_mix: tuple[float, float, float]
    view_to_cart: float
    cart_to_checkout: float
    checkout_to_purchase: float
    order_fixed: int
    order_var: float
    order_probs: tuple[float, ...] | None
    recency_skew: float
    extra_lines: float
    price_tilt: float
    discount_rate: float
    quantity_p: tuple[float, float, float, float, float]
    base_sessions: float
    base_cart_share: float
    browse_views: float
    review_weight: float
    rating_bias: float
    age_mean: float
    shipping_service_penalty: float


LATENT_TYPES: tuple[LatentType, ...] = (
    LatentType(
        name="champions", label="Champions", share=0.15,
        profile={"recency": "recent (last order within days)", "frequency": "high",
                 "monetary": "highest total spend, big baskets"},
        favourites=("Electronics", "Outdoor"), device_mix=(0.45, 0.45, 0.10),
        view_to_cart=0.80, cart_to_checkout=0.85, checkout_to_purchase=0.62,
        order_fixed=1, order_var=21.0, order_probs=None, recency_skew=2.0, extra_lines=2.4,
        price_tilt=0.4, discount_rate=0.08, quantity_p=(0.66, 0.22, 0.08, 0.02, 0.02),
        base_sessions=0.5, base_cart_share=0.3, browse_views=0.4, review_weight=1.0,
        rating_bias=0.3, age_mean=38.0, shipping_service_penalty=0.0,
    ),
    LatentType(
        name="bargain_hunters", label="Bargain hunters", share=0.25,
        profile={"recency": "recent", "frequency": "high",
                 "monetary": "low: small, cheap, often discounted baskets"},
        favourites=("Grocery", "Beauty"), device_mix=(0.72, 0.18, 0.10),
        view_to_cart=0.70, cart_to_checkout=0.75, checkout_to_purchase=0.55,
        order_fixed=1, order_var=13.0, order_probs=None, recency_skew=1.0, extra_lines=1.3,
        price_tilt=-1.0, discount_rate=0.45, quantity_p=(0.50, 0.27, 0.13, 0.06, 0.04),
        base_sessions=0.6, base_cart_share=0.35, browse_views=0.6, review_weight=0.8,
        rating_bias=0.0, age_mean=33.0, shipping_service_penalty=0.0,
    ),
    LatentType(
        name="lapsed_big_spenders", label="Lapsed big spenders", share=0.15,
        profile={"recency": "lapsed: no order in the last 165-330 days",
                 "frequency": "medium-high while active",
                 "monetary": "high: large baskets of expensive items"},
        favourites=("Fashion", "Home"), device_mix=(0.25, 0.55, 0.20),
        view_to_cart=0.75, cart_to_checkout=0.80, checkout_to_purchase=0.52,
        order_fixed=1, order_var=9.0, order_probs=None, recency_skew=1.0, extra_lines=3.3,
        price_tilt=1.3, discount_rate=0.04, quantity_p=(0.70, 0.20, 0.06, 0.02, 0.02),
        base_sessions=1.0, base_cart_share=0.0, browse_views=0.4, review_weight=1.3,
        rating_bias=-0.5, age_mean=49.0, shipping_service_penalty=0.3,
    ),
    LatentType(
        name="new_browsers", label="New browsers", share=0.20,
        profile={"recency": "signed up in the last 60 days", "frequency": "0-2 orders",
                 "monetary": "low", "engagement": "many sessions and views"},
        favourites=("Toys", "Fashion"), device_mix=(0.80, 0.12, 0.08),
        view_to_cart=0.50, cart_to_checkout=0.60, checkout_to_purchase=0.45,
        order_fixed=0, order_var=0.0, order_probs=(0.35, 0.40, 0.25), recency_skew=1.0,
        extra_lines=0.8, price_tilt=0.0, discount_rate=0.15,
        quantity_p=(0.75, 0.18, 0.05, 0.01, 0.01),
        base_sessions=6.0, base_cart_share=0.25, browse_views=1.5, review_weight=0.6,
        rating_bias=0.1, age_mean=27.0, shipping_service_penalty=0.0,
    ),
    LatentType(
        name="occasional", label="Occasional shoppers", share=0.25,
        profile={"recency": "months", "frequency": "low (1-4 orders spread out)",
                 "monetary": "low-medium, small baskets"},
        favourites=("Home", "Sports"), device_mix=(0.45, 0.40, 0.15),
        view_to_cart=0.65, cart_to_checkout=0.70, checkout_to_purchase=0.50,
        order_fixed=1, order_var=1.6, order_probs=None, recency_skew=1.0, extra_lines=1.0,
        price_tilt=-0.2, discount_rate=0.12, quantity_p=(0.75, 0.18, 0.05, 0.01, 0.01),
        base_sessions=1.0, base_cart_share=0.25, browse_views=0.4, review_weight=0.9,
        rating_bias=0.0, age_mean=43.0, shipping_service_penalty=0.0,
    ),
)
_TYPE_NAMES = tuple(t.name for t in LATENT_TYPES)
_N_TYPES = len(LATENT_TYPES)
_N_CATS = len(CATEGORY_NAMES)
_ANON = _N_TYPES  # type index used for anonymous sessions


def _col(attr: str) -> np.ndarray:
    return np.array([getattr(t, attr) for t in LATENT_TYPES], dtype=np.float64)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


@dataclass
class SampleData:
    """A generated data set.

    Attributes:
        tables: The six canonical tables, in canonical schemas and order.
        truth: Planted facts as frames: ``truth_customers`` (customer_id, latent_type,
            favourite_category, primary_device, variant), ``truth_experiment`` (experiment,
            variant, true_checkout_conversion, true_effect_abs) and ``truth_products``
            (product_id, quality).
        facts: Planted facts as plain data (see :meth:`truth_json`).
    """

    tables: dict[str, pl.DataFrame]
    truth: dict[str, pl.DataFrame]
    facts: dict[str, Any] = field(default_factory=dict)

    def truth_json(self) -> dict[str, Any]:
        """Planted facts: parameters, latent types (R/F/M profile, favourite categories,
        device mix, funnel rates), the experiment and its true effect, review plants, counts."""
        return self.facts

    def counts(self) -> dict[str, int]:
        """Row count per canonical table."""
        return {name: frame.height for name, frame in self.tables.items()}


def _auto_rate(customers: int, small: float, large: float) -> float:
    """Log-linear glide from ``small`` at 5 000 customers to ``large`` at 200 000."""
    t = min(1.0, max(0.0, math.log(customers / 5000) / math.log(40)))
    return small + (large - small) * t


def generate(
    *,
    customers: int = 5000,
    seed: int = 7,
    end: datetime = datetime(2026, 6, 30),
    months: int = 24,
    orders_per_customer: float | None = None,
    reviews_per_customer: float | None = None,
    progress: Progress | None = None,
) -> SampleData:
    """Generate a seeded sample data set with planted latent types, funnel and A/B effect.

    Args:
        customers: Number of customers (≥ 50).
        seed: Seed of the single random generator; same arguments → identical frames.
        end: Last timestamp of the data (naive, or converted from aware to naive UTC).
        months: Length of the history window before ``end`` (≥ 12).
        orders_per_customer: Population mean of orders per customer; ``None`` glides from
            8.0 at 5 000 customers to 5.0 at 200 000.
        reviews_per_customer: Expected reviews per customer; ``None`` glides 1.6 → 1.0.
        progress: Optional ``callable(step, fraction)``; it may raise to cancel.

    Returns:
        The tables, the truth frames and the planted facts.

    Raises:
        ShopperError: When ``customers`` or ``months`` is out of range.
    """
    if customers < 50:
        raise ShopperError(f"sample: --customers must be at least 50 (got {customers}).")
    if months < 12:
        raise ShopperError(f"sample: months must be at least 12 (got {months}).")
    opc = orders_per_customer if orders_per_customer is not None else _auto_rate(customers, 8.0, 5.0)
    rpc = reviews_per_customer if reviews_per_customer is not None else _auto_rate(customers, 1.6, 1.0)
    report = progress or (lambda step, fraction: None)
    if end.tzinfo is not None:
        end = end.astimezone(timezone.utc).replace(tzinfo=None)
    start = _months_before(end, months)
    exp_start = _months_before(end, EXPERIMENT_MONTHS)
    clock = _Clock(_to_us(start), _to_us(end), _to_us(exp_start))

    rng = np.random.default_rng(seed)
    report("customers", 0.0)
    cust = _customers(rng, customers, clock)
    report("products", 0.08)
    prod = _products(rng, customers)
    samplers = _Samplers(rng, cust, prod)
    report("orders", 0.12)
    orders = _orders(rng, cust, clock, opc)
    report("order items", 0.22)
    items = _order_items(rng, orders, cust, prod, samplers)
    report("sessions", 0.35)
    sessions = _sessions(rng, cust, orders, items, clock)
    orders["channel"] = sessions["order_channel"]
    report("events", 0.55)
    events = _events(rng, sessions, cust, items, samplers)
    report("reviews", 0.8)
    reviews = _reviews(rng, cust, prod, orders, items, clock, rpc)
    report("assembling", 0.85)

    tables = _assemble(cust, prod, orders, items, sessions, events, reviews)
    truth = _truth_frames(cust, prod, sessions)
    facts = _facts(
        customers=customers, seed=seed, start=start, end=end, exp_start=exp_start, months=months,
        opc=opc, rpc=rpc, truth=truth, tables=tables,
    )
    report("done", 1.0)
    return SampleData(tables=tables, truth=truth, facts=facts)


def write(sample: SampleData, out_dir: Path) -> list[Path]:
    """Write ``<table>.parquet`` (zstd) per canonical table, the truth frames and ``truth.json``.

    Each file is written beside its final name and renamed into place, so a reader never
    sees half a file.

    Returns:
        The written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in [*sample.tables.items(), *sample.truth.items()]:
        path = out_dir / f"{name}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        _write_parquet(frame, tmp)
        tmp.replace(path)
        written.append(path)
    path = out_dir / "truth.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(sample.truth_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    written.append(path)
    return written


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """zstd Parquet; timestamps delta-encoded (a third smaller for the event log)."""
    import pyarrow.parquet as pq

    ts_cols = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    pq.write_table(
        frame.to_arrow(), path, compression="zstd", compression_level=6,
        use_dictionary=[c for c in frame.columns if c not in ts_cols],
        column_encoding={c: "DELTA_BINARY_PACKED" for c in ts_cols} or None,
    )


def generate_to(
    out_dir: Path,
    *,
    customers: int = 5000,
    seed: int = 7,
    progress: Progress | None = None,
) -> SampleData:
    """Generate a data set and write it to ``out_dir`` (the CLI's ``shopper-tui sample``)."""
    report = progress or (lambda step, fraction: None)

    def scaled(step: str, fraction: float | None) -> None:
        report(step, None if fraction is None else 0.85 * fraction)

    sample = generate(customers=customers, seed=seed, progress=scaled)
    report("writing", 0.9)
    write(sample, Path(out_dir))
    report("written", 1.0)
    return sample


def main(argv: list[str] | None = None) -> int:
    """``python -m shopper_tui.sample_data.generator --customers N --seed S --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m shopper_tui.sample_data.generator",
        description="Generate a seeded retail sample data set with planted structure.",
    )
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        sample = generate_to(args.out, customers=args.customers, seed=args.seed)
    except ShopperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{k} {v:,}" for k, v in sample.counts().items())
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s: {counts}")
    return 0


# --------------------------------------------------------------------------------------
# Helpers: time, grouped sampling
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    start: int  # µs since epoch
    end: int
    exp_start: int


def _months_before(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _to_us(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def _within(counts: np.ndarray) -> np.ndarray:
    """0..n-1 inside each run of a ``np.repeat(..., counts)`` array."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _time_of_day(rng: np.random.Generator, day_us: np.ndarray) -> np.ndarray:
    """Replace the time of day of ``day_us`` by a draw from the hourly activity curve."""
    hours = rng.choice(24, size=day_us.size, p=_HOUR_P)
    seconds = rng.integers(0, 3600, size=day_us.size)
    return (day_us // _DAY) * _DAY + hours * _HOUR + seconds * _US


def _categorical(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per element of ``rows`` from the row's distribution in ``probs`` (small k)."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(rows.size)
    return (u[:, None] >= cum[rows]).sum(axis=1)


class _GroupedChoice:
    """Weighted choice of an item inside a group, for many draws at once.

    The table (group, item, weight) is turned into one sorted key ``group + cumulative
    share within group``; a draw for group ``g`` is ``searchsorted(key, g + u)``.
    """

    def __init__(self, groups: np.ndarray, items: np.ndarray, weights: np.ndarray, n_groups: int):
        order = np.lexsort((items, groups))
        g = groups[order]
        w = weights[order].astype(np.float64)
        self.items = items[order]
        totals = np.bincount(g, weights=w, minlength=n_groups)
        cs = np.cumsum(w)
        self.starts = np.searchsorted(g, np.arange(n_groups), side="left")
        self.ends = np.searchsorted(g, np.arange(n_groups), side="right")
        base = np.concatenate(([0.0], cs))[self.starts]
        within = (cs - base[g]) / np.where(totals[g] > 0, totals[g], 1.0)
        nonempty = self.ends > self.starts
        within[self.ends[nonempty] - 1] = 1.0
        self.key = g + within

    def draw(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        u = rng.random(groups.size)
        pos = np.searchsorted(self.key, groups + u, side="right")
        pos = np.clip(pos, self.starts[groups], self.ends[groups] - 1)
        return self.items[pos]


# --------------------------------------------------------------------------------------
# Customers and products
# --------------------------------------------------------------------------------------


def _customers(rng: np.random.Generator, n: int, clock: _Clock) -> dict[str, np.ndarray]:
    shares = _col("share")
    counts = np.floor(shares * n).astype(np.int64)
    counts[np.argsort(-(shares * n - counts), kind="stable")[: n - counts.sum()]] += 1
    ltype = rng.permutation(np.repeat(np.arange(_N_TYPES), counts))

    u = rng.random(n)
    lapse = clock.end - (165 + 165 * rng.random(n)) * _DAY
    latest = np.select(
        [ltype == 2, ltype == 3, ltype == 4],
        [np.maximum(lapse - 120 * _DAY, clock.start + 5 * _DAY), clock.end - 60 * _DAY,
         clock.end - 120 * _DAY],
        clock.end - 90 * _DAY,
    )
    earliest = np.where(ltype == 3, clock.end - 60 * _DAY, clock.start)
    signup = (earliest + u * np.maximum(latest - earliest, _DAY)).astype(np.int64)
    signup = np.minimum(signup, clock.end - 2 * _DAY) // _US * _US  # whole seconds
    act_start = signup + _DAY
    end_offset = np.select([ltype == 0, ltype == 1], [3 * _DAY, 20 * _DAY], 0) * rng.random(n)
    act_end = np.where(ltype == 2, lapse, clock.end - end_offset).astype(np.int64)
    act_end = np.maximum(act_end, act_start + _DAY)

    # Category preferences: Dirichlet around a base vector favouring the type's two categories.
    base = np.full((_N_TYPES + 1, _N_CATS), 0.06)
    for t, lt in enumerate(LATENT_TYPES):
        base[t, CATEGORY_NAMES.index(lt.favourites[0])] = 0.42
        base[t, CATEGORY_NAMES.index(lt.favourites[1])] = 0.22
    base[_ANON] = 1.0 / _N_CATS
    base /= base.sum(axis=1, keepdims=True)
    prefs = rng.gamma(30.0 * base[ltype])
    prefs /= prefs.sum(axis=1, keepdims=True)

    mix = np.array([lt.device_mix for lt in LATENT_TYPES])
    primary = _categorical(rng, mix, ltype)
    variant = (rng.random(n) < 0.5).astype(np.int8)  # 1 = treatment

    age = np.clip(np.round(rng.normal(_col("age_mean")[ltype], 11.0)), 18, 85)
    age_null = rng.random(n) < 0.03
    gender = rng.choice(3, size=n, p=_GENDER_P)
    gender_null = rng.random(n) < 0.04
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    first = rng.integers(0, len(_FIRST_NAMES), n)
    last = rng.integers(0, len(_LAST_NAMES), n)
    return {
        "n": np.int64(n), "type": ltype, "signup": signup, "act_start": act_start,
        "act_end": act_end, "prefs": prefs, "anon_pref": base[_ANON], "primary": primary,
        "variant": variant, "age": age, "age_null": age_null, "gender": gender,
        "gender_null": gender_null, "country": country, "first": first, "last": last,
    }


def _products(rng: np.random.Generator, customers: int) -> dict[str, Any]:
    n = max(160, round(400 * (customers / 5000) ** 0.4))
    shares = np.array([c.share for c in CATEGORIES.values()])
    counts = np.floor(shares / shares.sum() * n).astype(np.int64)
    counts[np.argsort(-(shares * n - counts), kind="stable")[: n - counts.sum()]] += 1
    cat = np.repeat(np.arange(_N_CATS), counts)

    # Flattened word tables per category, indexed by offset + floor(u * count).
    def pick(lists: list[tuple[str, ...]]) -> tuple[pl.Series, np.ndarray]:
        sizes = np.array([len(x) for x in lists])
        offsets = np.cumsum(sizes) - sizes
        flat = pl.Series([w for x in lists for w in x], dtype=pl.String)
        return flat, offsets[cat] + np.floor(rng.random(n) * sizes[cat]).astype(np.int64)

    cats = list(CATEGORIES.values())
    sub_lists = [tuple(c.subcategories) for c in cats]
    sub_flat, sub_idx = pick(sub_lists)
    # Nouns depend on the subcategory: flatten per (category, subcategory).
    noun_lists = [nouns for c in cats for nouns in c.subcategories.values()]
    noun_sizes = np.array([len(x) for x in noun_lists])
    noun_offsets = np.cumsum(noun_sizes) - noun_sizes
    noun_flat = pl.Series([w for x in noun_lists for w in x], dtype=pl.String)
    noun_idx = noun_offsets[sub_idx] + np.floor(rng.random(n) * noun_sizes[sub_idx]).astype(np.int64)
    adj_flat, adj_idx = pick([c.adjectives for c in cats])
    brand_flat, brand_idx = pick([c.brands for c in cats])
    use_flat, use_idx = pick([c.uses for c in cats])
    feat_flat, feat_idx = pick([c.features for c in cats])

    sub_names = [s for c in cats for s in c.subcategories]
    sub_factor = np.array([_SUBCATEGORY_PRICE.get(s, 1.0) for s in sub_names])
    median = np.array([c.median_price for c in cats])[cat] * sub_factor[sub_idx]
    sigma = np.array([c.price_sigma for c in cats])[cat]
    raw = median * np.exp(sigma * rng.standard_normal(n))
    price = np.maximum(np.floor(raw), 0.0) + 0.99
    popularity = np.exp(rng.normal(0.0, 1.0, n))
    quality = rng.normal(0.0, 0.7, n)

    frame = pl.DataFrame({
        "brand": brand_flat.gather(brand_idx),
        "adj": adj_flat.gather(adj_idx),
        "noun": noun_flat.gather(noun_idx),
        "subcategory": sub_flat.gather(sub_idx),
        "use": use_flat.gather(use_idx),
        "feature": feat_flat.gather(feat_idx),
    }).with_columns(name=pl.concat_str(["brand", "adj", "noun"], separator=" "))
    frame = frame.with_columns(
        dup=pl.int_range(pl.len()).over("name"),
    ).with_columns(
        name=pl.when(pl.col("dup") > 0)
        .then(pl.concat_str([pl.col("name"), pl.lit(" Mk "), (pl.col("dup") + 1).cast(pl.String)]))
        .otherwise(pl.col("name")),
        description=pl.concat_str([
            pl.col("adj"), pl.lit(" "), pl.col("noun").str.to_lowercase(), pl.lit(" from "),
            pl.col("brand"), pl.lit(", "), pl.col("use"), pl.lit(". "), pl.col("feature"),
        ]),
    )
    width = max(5, len(str(n)))
    return {
        "n": n, "cat": cat, "price": price, "popularity": popularity, "quality": quality,
        "ids": _ids("P", n, width), "frame": frame,
    }


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    """``prefix`` + 1-based zero-padded numbers: C000001, O0000001, …"""
    return pl.select(
        pl.concat_str([pl.lit(prefix), pl.int_range(1, n + 1).cast(pl.String).str.zfill(width)])
    ).to_series()


class _Samplers:
    """Category choice per customer (their preference vector) and product choice per
    (type, category) weighted by popularity × price ** type's price tilt."""

    def __init__(self, rng: np.random.Generator, cust: dict, prod: dict):
        n = int(cust["n"])
        prefs = np.vstack([cust["prefs"], cust["anon_pref"][None, :]])
        cum = np.cumsum(prefs, axis=1)
        self.cat_cum = [np.ascontiguousarray(cum[:, k]) for k in range(_N_CATS - 1)]
        tilt = np.append(_col("price_tilt"), 0.0)
        n_p = prod["n"]
        t_idx = np.repeat(np.arange(_N_TYPES + 1), n_p)
        p_idx = np.tile(np.arange(n_p), _N_TYPES + 1)
        rel_price = prod["price"] / np.median(prod["price"])
        weights = prod["popularity"][p_idx] * rel_price[p_idx] ** tilt[t_idx]
        self.product = _GroupedChoice(t_idx * _N_CATS + prod["cat"][p_idx], p_idx, weights,
                                      (_N_TYPES + 1) * _N_CATS)
        self.ctype = np.append(cust["type"], _ANON)
        self.anon_row = n

    def products_for(self, rng: np.random.Generator, cust_rows: np.ndarray) -> np.ndarray:
        """One product per element of ``cust_rows`` (customer index, or ``-1`` = anonymous)."""
        rows = np.where(cust_rows < 0, self.anon_row, cust_rows)
        u = rng.random(rows.size)
        group = self.ctype[rows] * _N_CATS  # + category, by inverse CDF over the 8 columns
        for column in self.cat_cum:
            group += u >= column[rows]
        return self.product.draw(rng, group)


# --------------------------------------------------------------------------------------
# Orders and order items
# --------------------------------------------------------------------------------------


def _orders(rng: np.random.Generator, cust: dict, clock: _Clock, opc: float) -> dict[str, np.ndarray]:
    n = int(cust["n"])
    ltype = cust["type"]
    shares = _col("share")
    fixed = _col("order_fixed")
    var = _col("order_var")
    new_mean = sum(
        s * sum(k * p for k, p in enumerate(t.order_probs))
        for s, t in zip(shares, LATENT_TYPES) if t.order_probs
    )
    f = max(0.05, (opc - float((shares * fixed).sum()) - new_mean) / float((shares * var).sum()))
    lam = f * var[ltype] * rng.gamma(4.0, 0.25, n)
    k = fixed[ltype].astype(np.int64) + rng.poisson(lam)
    for t, lt in enumerate(LATENT_TYPES):
        if lt.order_probs:
            mask = ltype == t
            k[mask] = rng.choice(len(lt.order_probs), size=int(mask.sum()), p=lt.order_probs)

    oc = np.repeat(np.arange(n), k)
    lo = cust["act_start"][oc]
    hi = cust["act_end"][oc]
    x = rng.random(oc.size) ** _col("recency_skew")[ltype[oc]]
    hi = np.minimum(hi, clock.end - 60 * _US)
    ts = _time_of_day(rng, (hi - x * (hi - lo)).astype(np.int64))
    # A new time of day can leave the window on its first or last day: move by a day.
    ts = np.where(ts > hi, ts - _DAY, np.where(ts < lo, ts + _DAY, ts))
    ts = np.clip(ts, lo, hi) // _US * _US
    order = np.lexsort((oc, ts))
    oc, ts = oc[order], ts[order]
    status = rng.choice(3, size=oc.size, p=STATUS_P)
    return {"cust": oc, "ts": ts, "status": status}


def _order_items(rng: np.random.Generator, orders: dict, cust: dict, prod: dict,
                 samplers: _Samplers) -> dict[str, np.ndarray]:
    n_orders = orders["cust"].size
    otype = cust["type"][orders["cust"]]
    lines = np.minimum(1 + rng.poisson(_col("extra_lines")[otype]), 6)
    li_order = np.repeat(np.arange(n_orders), lines)
    li_cust = orders["cust"][li_order]
    li_prod = samplers.products_for(rng, li_cust)
    # One line per product and order (duplicates merged away); order kept.
    _, first = np.unique(li_order.astype(np.int64) * prod["n"] + li_prod, return_index=True)
    keep = np.zeros(li_order.size, dtype=bool)
    keep[first] = True
    li_order, li_prod, li_cust = li_order[keep], li_prod[keep], li_cust[keep]
    li_type = cust["type"][li_cust]

    qp = np.array([lt.quantity_p for lt in LATENT_TYPES])
    quantity = _categorical(rng, qp, li_type) + 1
    discounted = rng.random(li_order.size) < _col("discount_rate")[li_type]
    pct = rng.choice(np.array([0.1, 0.15, 0.2, 0.3, 0.5]), size=li_order.size,
                     p=[0.3, 0.25, 0.25, 0.15, 0.05])
    unit = prod["price"][li_prod] * np.where(discounted, 1.0 - pct, 1.0)
    unit = np.round(unit, 2)
    n_lines = np.bincount(li_order, minlength=n_orders)
    return {
        "order": li_order, "product": li_prod, "quantity": quantity.astype(np.int64),
        "unit_price": unit, "discounted": discounted, "n_lines": n_lines,
        "line_start": np.cumsum(n_lines) - n_lines,
    }


# --------------------------------------------------------------------------------------
# Sessions and events
# --------------------------------------------------------------------------------------

_KIND_VIEW, _KIND_CART, _KIND_CHECKOUT, _KIND_PURCHASE = range(4)
_CART_VIEW_P = 0.5  # chance that a carted item after the first was viewed first


def _structure(rng: np.random.Generator, kind: np.ndarray, ctype: np.ndarray,
               n_cart: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Event counts of sessions: search flag, browsed views, carted items (the first
    ``cart_views`` of them viewed before being added, the others added straight from a list),
    an item added then removed, checkout and purchase flags; and the session duration."""
    m = kind.size
    browse_views = np.append(_col("browse_views"), 0.6)[ctype]
    browse_mean = np.select(
        [kind == _KIND_PURCHASE, kind == _KIND_CHECKOUT, kind == _KIND_CART], [0.15, 0.3, 0.3],
        browse_views,
    )
    nb = rng.poisson(browse_mean) + (kind == _KIND_VIEW)
    if n_cart is None:
        n_cart = np.where(kind == _KIND_VIEW, 0,
                          1 + rng.poisson(0.2, m))
    remove_p = np.select([kind == _KIND_PURCHASE, kind == _KIND_CHECKOUT, kind == _KIND_CART],
                         [0.05, 0.10, 0.25], 0.0)
    s = (rng.random(m) < 0.12).astype(np.int64)
    cv = np.where(n_cart > 0, 1 + rng.binomial(np.maximum(n_cart - 1, 0), _CART_VIEW_P), 0)
    rm = (rng.random(m) < remove_p).astype(np.int64)
    co = (kind >= _KIND_CHECKOUT).astype(np.int64)
    pu = (kind == _KIND_PURCHASE).astype(np.int64)
    n_e = s + nb + n_cart + cv + 3 * rm + co + pu
    dur = np.round(rng.gamma(n_e - 1.0, _MEAN_EVENT_GAP_S) * _US).astype(np.int64)
    i32 = np.int32
    return {"search": s.astype(i32), "browse": nb.astype(i32), "cart": n_cart.astype(i32),
            "cart_views": cv.astype(i32), "remove": rm.astype(i32), "n_events": n_e.astype(i32),
            "dur": dur}


def _before(rng: np.random.Generator, parent_start: np.ndarray, dur: np.ndarray,
            max_days: float, bound: np.ndarray) -> np.ndarray:
    """Session end (anchor) placed up to ``max_days`` before the parent, starting ≥ bound."""
    offset = ((0.01 + (max_days - 0.01) * rng.random(parent_start.size)) * _DAY).astype(np.int64)
    start = np.maximum(parent_start - offset - dur, bound)
    return start + dur


def _sessions(rng: np.random.Generator, cust: dict, orders: dict, items: dict,
              clock: _Clock) -> dict[str, Any]:
    """All sessions, bottom-up from the orders, sorted by start time."""
    ltype = cust["type"]
    p_rate = _col("checkout_to_purchase")
    q_rate = _col("cart_to_checkout")
    r_rate = _col("view_to_cart")
    signup_bound = cust["signup"] + _US
    parts: list[dict[str, np.ndarray]] = []

    def add(c: np.ndarray, kind: int | np.ndarray, st: dict, anchor: np.ndarray,
            order: np.ndarray | None = None) -> dict:
        m = c.size
        part = {
            "cust": c.astype(np.int32),
            "kind": np.full(m, kind, np.int8) if np.isscalar(kind) else kind.astype(np.int8),
            "order": order.astype(np.int32) if order is not None else np.full(m, -1, np.int32),
            "anchor": anchor.astype(np.int64),
            **st,
        }
        part["start"] = part["anchor"] - part["dur"]
        parts.append(part)
        return part

    # Purchase sessions: one per order, ending at the order timestamp.
    oc = orders["cust"]
    otype = ltype[oc]
    st = _structure(rng, np.full(oc.size, _KIND_PURCHASE), otype, n_cart=items["n_lines"])
    start = orders["ts"] - st["dur"]
    in_exp = start >= clock.exp_start
    treat = in_exp & (cust["variant"][oc] == 1)
    p_s = p_rate[otype] + EXPERIMENT_UPLIFT * treat
    purchase = add(oc, _KIND_PURCHASE, st, orders["ts"], np.arange(oc.size))
    # Expected checkout → purchase conversion per arm given the realised purchase sessions:
    # each purchase session with rate p brings 1/p checkout sessions on average.
    arm = cust["variant"][oc]
    exp_truth = {
        name: float(np.sum(in_exp & (arm == v)) / np.sum(1.0 / p_s[in_exp & (arm == v)]))
        if np.any(in_exp & (arm == v)) else float("nan")
        for v, name in enumerate(("control", "treatment"))
    }

    # Checkout abandonments: Poisson((1 - p) / p) per purchase session, before it, same arm.
    n_c = rng.poisson((1.0 - p_s) / p_s)
    par = np.repeat(np.arange(oc.size), n_c)
    c = oc[par]
    st = _structure(rng, np.full(c.size, _KIND_CHECKOUT), ltype[c])
    bound = np.where(in_exp[par], np.maximum(signup_bound[c], clock.exp_start + _US), signup_bound[c])
    checkout = add(c, _KIND_CHECKOUT, st, _before(rng, purchase["start"][par], st["dur"], 7, bound))

    # Cart abandonments per checkout-level session, view-only sessions per cart-level session.
    level_c = np.concatenate([purchase["cust"], checkout["cust"]])
    level_start = np.concatenate([purchase["start"], checkout["start"]])
    n_k = rng.poisson((1.0 - q_rate[ltype[level_c]]) / q_rate[ltype[level_c]])
    par = np.repeat(np.arange(level_c.size), n_k)
    c = level_c[par]
    st = _structure(rng, np.full(c.size, _KIND_CART), ltype[c])
    cart = add(c, _KIND_CART, st, _before(rng, level_start[par], st["dur"], 10, signup_bound[c]))

    level_c = np.concatenate([level_c, cart["cust"]])
    level_start = np.concatenate([level_start, cart["start"]])
    n_v = rng.poisson((1.0 - r_rate[ltype[level_c]]) / r_rate[ltype[level_c]])
    par = np.repeat(np.arange(level_c.size), n_v)
    c = level_c[par]
    st = _structure(rng, np.full(c.size, _KIND_VIEW), ltype[c])
    add(c, _KIND_VIEW, st, _before(rng, level_start[par], st["dur"], 14, signup_bound[c]))

    # Base browsing not tied to orders (new browsers browse a lot; lapsed ones window-shop).
    n_b = rng.poisson(_col("base_sessions")[ltype])
    c = np.repeat(np.arange(ltype.size), n_b)
    kind = np.where(rng.random(c.size) < _col("base_cart_share")[ltype[c]], _KIND_CART, _KIND_VIEW)
    st = _structure(rng, kind, ltype[c])
    lo = np.where(ltype[c] == 2, cust["act_end"][c], signup_bound[c])
    hi = np.maximum(clock.end - st["dur"], lo)
    add(c, kind, st, (lo + rng.random(c.size) * (hi - lo)).astype(np.int64) + st["dur"])

    # Anonymous sessions: ANONYMOUS_SHARE of all sessions.
    known = sum(p["cust"].size for p in parts)
    n_a = round(ANONYMOUS_SHARE / (1 - ANONYMOUS_SHARE) * known)
    kind = np.where(rng.random(n_a) < 0.3, _KIND_CART, _KIND_VIEW)
    st = _structure(rng, kind, np.full(n_a, _ANON))
    span = clock.end - clock.start - st["dur"]
    add(np.full(n_a, -1, np.int64), kind, st,
        (clock.start + rng.random(n_a) * span).astype(np.int64) + st["dur"])

    s = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    perm = np.lexsort((np.arange(s["start"].size), s["start"]))
    s = {key: value[perm] for key, value in s.items()}

    # Device (sticky primary device) and channel; store channel for some purchase sessions.
    known_mask = s["cust"] >= 0
    ctype = np.where(known_mask, ltype[np.maximum(s["cust"], 0)], 0)
    mix = np.array([lt.device_mix for lt in LATENT_TYPES] + [(0.6, 0.3, 0.1)])
    drawn = _categorical(rng, mix, np.where(known_mask, ctype, _ANON))
    sticky = known_mask & (rng.random(ctype.size) < 0.8)
    device = np.where(sticky, cust["primary"][np.maximum(s["cust"], 0)], drawn)
    app_p = np.array([0.7, 0.0, 0.5])[device]
    channel = np.where(rng.random(device.size) < app_p, 1, 0)
    channel = np.where((s["kind"] == _KIND_PURCHASE) & (rng.random(device.size) < 0.06), 2, channel)
    s["device"], s["channel"] = device, channel
    s["in_exp"] = known_mask & (s["start"] >= clock.exp_start)
    s["variant"] = np.where(s["in_exp"], cust["variant"][np.maximum(s["cust"], 0)], -1)

    purchase_rows = np.flatnonzero(s["kind"] == _KIND_PURCHASE)
    order_channel = np.empty(orders["cust"].size, dtype=np.int64)
    order_channel[s["order"][purchase_rows]] = channel[purchase_rows]
    s["order_channel"] = order_channel
    s["experiment_truth"] = exp_truth
    return s


def _events(rng: np.random.Generator, s: dict, cust: dict, items: dict,
            samplers: _Samplers) -> dict[str, np.ndarray]:
    """Lay out every session's events at fixed positions: search, browsed views, view + add
    per carted item, view + add + remove, checkout, purchase."""
    n_e = s["n_events"]
    total = int(n_e.sum())
    offs = np.cumsum(n_e) - n_e
    etype = np.empty(total, dtype=np.int8)
    eprod = np.full(total, -1, dtype=np.int64)
    sess_idx = np.arange(n_e.size)

    etype[offs[s["search"] == 1]] = SEARCH

    sb = np.repeat(sess_idx, s["browse"])
    pos = offs[sb] + s["search"][sb] + _within(s["browse"])
    etype[pos] = VIEW
    eprod[pos] = samplers.products_for(rng, s["cust"][sb])

    sc = np.repeat(sess_idx, s["cart"])
    j = _within(s["cart"])
    cart_prod = np.empty(sc.size, dtype=np.int64)
    is_p = s["kind"][sc] == _KIND_PURCHASE
    line = items["line_start"][s["order"][sc[is_p]]] + j[is_p]
    cart_prod[is_p] = items["product"][line]
    cart_prod[~is_p] = samplers.products_for(rng, s["cust"][sc[~is_p]])
    # The first cart_views items are viewed then added (2 events), the rest only added.
    v = s["cart_views"][sc]
    viewed = j < v
    add_pos = offs[sc] + s["search"][sc] + s["browse"][sc] + np.where(viewed, 2 * j + 1, v + j)
    etype[add_pos] = ADD
    eprod[add_pos] = cart_prod
    etype[add_pos[viewed] - 1] = VIEW
    eprod[add_pos[viewed] - 1] = cart_prod[viewed]

    sr = sess_idx[s["remove"] == 1]
    base = offs[sr] + s["search"][sr] + s["browse"][sr] + s["cart"][sr] + s["cart_views"][sr]
    rprod = samplers.products_for(rng, s["cust"][sr])
    etype[base], etype[base + 1], etype[base + 2] = VIEW, ADD, REMOVE
    eprod[base], eprod[base + 1], eprod[base + 2] = rprod, rprod, rprod

    so = sess_idx[s["kind"] >= _KIND_CHECKOUT]
    base = (offs[so] + s["search"][so] + s["browse"][so] + s["cart"][so] + s["cart_views"][so]
            + 3 * s["remove"][so])
    etype[base] = CHECKOUT
    etype[base[s["kind"][so] == _KIND_PURCHASE] + 1] = PURCHASE

    # Timestamps: exponential gaps scaled to the session's duration, ending at its anchor.
    ev_sess = np.repeat(sess_idx, n_e)
    gap = rng.exponential(1.0, total)
    last = offs + n_e - 1
    gap[last] = 0.0
    cum = np.cumsum(gap)
    remaining = cum[last][ev_sess] - cum + gap
    first_sum = cum[last] - cum[offs] + gap[offs]
    frac = remaining / np.where(first_sum > 0, first_sum, 1.0)[ev_sess]
    ts = s["anchor"][ev_sess] - np.round(frac * s["dur"][ev_sess]).astype(np.int64)
    ts = ts // _US * _US  # whole seconds; flooring keeps the order within a session
    return {"session": ev_sess, "type": etype, "product": eprod, "ts": ts}


# --------------------------------------------------------------------------------------
# Reviews
# --------------------------------------------------------------------------------------


def _reviews(rng: np.random.Generator, cust: dict, prod: dict, orders: dict, items: dict,
             clock: _Clock, rpc: float) -> dict[str, Any]:
    li_order = items["order"]
    status = orders["status"][li_order]
    li_cust = orders["cust"][li_order]
    li_type = cust["type"][li_cust]
    returned = status == 2
    weight = np.where(status == 1, 0.0, _col("review_weight")[li_type] * np.where(returned, 1.8, 1.0))
    target = rpc * int(cust["n"])
    prob = np.minimum(1.0, weight * target / max(weight.sum(), 1e-9))
    chosen = np.flatnonzero(rng.random(li_order.size) < prob)
    m = chosen.size
    r_prod = items["product"][chosen]
    r_cust = li_cust[chosen]
    r_type = li_type[chosen]
    r_returned = returned[chosen]
    order_ts = orders["ts"][li_order[chosen]]
    delay = ((2 + 43 * rng.random(m)) * _DAY).astype(np.int64)
    room = clock.end - order_ts
    delay = np.where(order_ts + delay > clock.end, (room * (0.2 + 0.8 * rng.random(m))).astype(np.int64), delay)
    r_ts = _time_of_day(rng, order_ts + delay)
    r_ts = np.clip(r_ts, order_ts + _US, clock.end) // _US * _US
    anonymous = rng.random(m) < 0.03

    latent = (prod["quality"][r_prod] + _col("rating_bias")[r_type] - 1.6 * r_returned
              + rng.logistic(0.0, 1.0, m))
    rating = (1 + np.searchsorted(_RATING_CUTS, latent)).astype(np.int8)

    # Aspects: Gumbel top-k over weights (fit only for apparel-like categories).
    cat = prod["cat"][r_prod]
    has_fit = np.array([c.has_fit for c in CATEGORIES.values()])[cat]
    w = np.tile(np.array([1.0, 1.4, 0.6, 0.9, 1.0]), (m, 1))
    w[:, 4] = np.where(has_fit, 1.0, 0.0)
    lapsed = r_type == _TYPE_NAMES.index("lapsed_big_spenders")
    w[lapsed, 2] *= 2.0
    w[lapsed, 3] *= 2.5
    with np.errstate(divide="ignore"):
        keys = np.log(w) + rng.gumbel(size=(m, len(ASPECTS)))
    ranked = np.argsort(-keys, axis=1, kind="stable")
    k = np.where(rating == 3, 2 + (rng.random(m) < 0.3), 1 + rng.choice(3, size=m, p=[0.35, 0.45, 0.2]))

    penalty = _col("shipping_service_penalty")[r_type]
    first_pol = rng.random(m) < 0.5
    sentences = [s for a in ASPECTS for pol in ("positive", "negative") for s in ASPECT_SENTENCES[a][pol]]
    per = len(ASPECT_SENTENCES["price"]["positive"])
    flat = pl.Series(sentences, dtype=pl.String)
    slots = {}
    for j in range(3):
        aspect = ranked[:, j]
        p_pos = _P_POSITIVE[rating] - np.where((aspect == 2) | (aspect == 3), penalty, 0.0)
        positive = np.where(rating == 3, first_pol ^ (j % 2 == 1), rng.random(m) < p_pos)
        idx = (aspect * 2 + (~positive)) * per + rng.integers(0, per, m)
        idx = np.where(j < k, idx, -1)
        slots[f"a{j}"] = _gather(flat, idx)
    ctx_lists = [c.review_context for c in CATEGORIES.values()]
    ctx_flat = pl.Series([x for lst in ctx_lists for x in lst], dtype=pl.String)
    ctx_sizes = np.array([len(x) for x in ctx_lists])
    ctx_idx = (np.cumsum(ctx_sizes) - ctx_sizes)[cat] + np.floor(rng.random(m) * ctx_sizes[cat]).astype(np.int64)
    ctx_idx = np.where(rng.random(m) < 0.5, ctx_idx, -1)

    def by_rating(table: dict[int, tuple[str, ...]], optional: float = 0.0) -> pl.Series:
        sizes = np.array([len(table[r]) for r in range(1, 6)])
        offsets = np.cumsum(sizes) - sizes
        flat_r = pl.Series([x for r in range(1, 6) for x in table[r]], dtype=pl.String)
        idx = offsets[rating - 1] + np.floor(rng.random(m) * sizes[rating - 1]).astype(np.int64)
        idx = np.where(rng.random(m) < optional, -1, idx)
        return _gather(flat_r, idx)

    title = by_rating(_TITLES)
    opener = by_rating(_OPENERS)
    closer = by_rating(_CLOSERS, optional=0.4)
    text = pl.DataFrame({
        "o": opener, "c": _gather(ctx_flat, ctx_idx), **slots, "z": closer,
    }).select(pl.concat_str(["o", "c", "a0", "a1", "a2", "z"], separator=" ", ignore_nulls=True))
    order = np.lexsort((chosen, r_ts))
    return {
        "product": r_prod[order], "cust": np.where(anonymous, -1, r_cust)[order], "ts": r_ts[order],
        "rating": rating[order], "title": title.gather(order), "text": text.to_series().gather(order),
    }


# --------------------------------------------------------------------------------------
# Assembly into canonical frames, truth
# --------------------------------------------------------------------------------------


def _gather(values: pl.Series, idx: np.ndarray) -> pl.Series:
    """``values[idx]`` with ``idx < 0`` as null."""
    s = pl.Series(idx.astype(np.int64))
    if (idx < 0).any():
        s = pl.select(pl.when(s >= 0).then(s)).to_series()
    return values.gather(s)


def _ts(us: np.ndarray) -> pl.Series:
    return pl.Series(us.astype(np.int64)).cast(pl.Datetime("us"))


def _frame(table: str, columns: dict[str, pl.Series | np.ndarray]) -> pl.DataFrame:
    schema = TABLES[table].schema
    frame = pl.DataFrame({name: columns[name] for name in schema})
    return frame.cast(schema)  # type: ignore[arg-type]


def _assemble(cust, prod, orders, items, s, events, reviews) -> dict[str, pl.DataFrame]:
    n = int(cust["n"])
    cust_ids = _ids("C", n, max(6, len(str(n))))
    first = pl.Series(_FIRST_NAMES).gather(cust["first"])
    last = pl.Series(_LAST_NAMES).gather(cust["last"])
    names = pl.DataFrame({"f": first, "l": last, "i": np.arange(1, n + 1)}).select(
        name=pl.concat_str(["f", "l"], separator=" "),
        email=pl.concat_str([pl.col("f").str.to_lowercase(), pl.lit("."), pl.col("l").str.to_lowercase(),
                             pl.col("i").cast(pl.String), pl.lit("@example.com")]),
    )
    customers = _frame("customers", {
        "customer_id": cust_ids,
        "signup_ts": _ts(cust["signup"]),
        "country": pl.Series(_COUNTRIES).gather(cust["country"]),
        "age": _gather(pl.Series(np.arange(0, 86)), np.where(cust["age_null"], -1, cust["age"].astype(np.int64))),
        "gender": _gather(pl.Series(_GENDERS), np.where(cust["gender_null"], -1, cust["gender"])),
        "email": names["email"], "name": names["name"],
    })

    pf = prod["frame"]
    products = _frame("products", {
        "product_id": prod["ids"], "name": pf["name"],
        "category": pl.Series(CATEGORY_NAMES).gather(prod["cat"]),
        "subcategory": pf["subcategory"], "brand": pf["brand"], "price": prod["price"],
        "description": pf["description"],
    })

    n_o = orders["cust"].size
    order_ids = _ids("O", n_o, max(7, len(str(n_o))))
    orders_df = _frame("orders", {
        "order_id": order_ids, "customer_id": cust_ids.gather(orders["cust"]),
        "ts": _ts(orders["ts"]), "channel": pl.Series(CHANNELS).gather(orders["channel"]),
        "status": pl.Series(STATUSES).gather(orders["status"]),
    })
    items_df = _frame("order_items", {
        "order_id": order_ids.gather(items["order"]), "product_id": prod["ids"].gather(items["product"]),
        "quantity": items["quantity"], "unit_price": items["unit_price"],
        "kind": pl.repeat("product", len(items["quantity"]), dtype=pl.String, eager=True),  # no charges generated
    })

    n_s = s["cust"].size
    session_ids = _ids("S", n_s, max(8, len(str(n_s))))
    ev = events["session"]
    variant = s["variant"][ev]
    events_df = _frame("events", {
        "session_id": session_ids.gather(ev),
        "customer_id": _gather(cust_ids, s["cust"][ev]),
        "ts": _ts(events["ts"]),
        "event_type": pl.Series(EVENT_NAMES).gather(events["type"].astype(np.int64)),
        "product_id": _gather(prod["ids"], events["product"]),
        "device": pl.Series(DEVICES).gather(s["device"][ev]),
        "channel": pl.Series(CHANNELS).gather(s["channel"][ev]),
        "experiment": _gather(pl.Series([EXPERIMENT]), np.where(variant >= 0, 0, -1)),
        "variant": _gather(pl.Series(["control", "treatment"]), variant),
    })

    m = reviews["product"].size
    reviews_df = _frame("reviews", {
        "review_id": _ids("R", m, max(7, len(str(m)))),
        "product_id": prod["ids"].gather(reviews["product"]),
        "customer_id": _gather(cust_ids, reviews["cust"]),
        "ts": _ts(reviews["ts"]), "rating": reviews["rating"],
        "title": reviews["title"], "text": reviews["text"],
    })
    return {"customers": customers, "products": products, "orders": orders_df,
            "order_items": items_df, "events": events_df, "reviews": reviews_df}


def _truth_frames(cust, prod, s) -> dict[str, pl.DataFrame]:
    n = int(cust["n"])
    cust_ids = _ids("C", n, max(6, len(str(n))))
    fav = [lt.favourites[0] for lt in LATENT_TYPES]
    truth_customers = pl.DataFrame({
        "customer_id": cust_ids,
        "latent_type": pl.Series(_TYPE_NAMES).gather(cust["type"]),
        "favourite_category": pl.Series(fav).gather(cust["type"]),
        "primary_device": pl.Series(DEVICES).gather(cust["primary"]),
        "variant": pl.Series(["control", "treatment"]).gather(cust["variant"].astype(np.int64)),
    })
    rows = []
    conv = s["experiment_truth"]
    for name in ("control", "treatment"):
        rows.append({"experiment": EXPERIMENT, "variant": name,
                     "true_checkout_conversion": conv[name],
                     "true_effect_abs": 0.0 if name == "control" else conv["treatment"] - conv["control"]})
    truth_experiment = pl.DataFrame(rows, schema={
        "experiment": pl.String, "variant": pl.String, "true_checkout_conversion": pl.Float64,
        "true_effect_abs": pl.Float64})
    truth_products = pl.DataFrame({"product_id": prod["ids"], "quality": prod["quality"]})
    return {"truth_customers": truth_customers, "truth_experiment": truth_experiment,
            "truth_products": truth_products}


def _facts(*, customers, seed, start, end, exp_start, months, opc, rpc, truth, tables) -> dict[str, Any]:
    exp = truth["truth_experiment"]
    conv = dict(zip(exp["variant"].to_list(), exp["true_checkout_conversion"].to_list()))
    return {
        "generator": "shopper_tui.sample_data.generator",
        "parameters": {
            "customers": customers, "seed": seed, "start": start.isoformat(),
            "end": end.isoformat(), "months": months,
            "orders_per_customer": round(opc, 3), "reviews_per_customer": round(rpc, 3),
            "anonymous_session_share": ANONYMOUS_SHARE,
        },
        "latent_types": [
            {
                "name": lt.name, "label": lt.label, "share": lt.share, "profile": lt.profile,
                "favourite_categories": list(lt.favourites),
                "device_mix": dict(zip(DEVICES, lt.device_mix)),
                "funnel": {"view_to_cart": lt.view_to_cart, "cart_to_checkout": lt.cart_to_checkout,
                           "checkout_to_purchase": lt.checkout_to_purchase},
                "price_tilt": lt.price_tilt, "discount_rate": lt.discount_rate,
                "rating_bias": lt.rating_bias,
                "shipping_service_negative_extra": lt.shipping_service_penalty,
            }
            for lt in LATENT_TYPES
        ],
        "experiment": {
            "name": EXPERIMENT, "start": exp_start.isoformat(), "variants": ["control", "treatment"],
            "assignment": "per customer, 50/50, seeded; every session of a known customer starting at or after start",
            "metric": "checkout -> purchase conversion of sessions",
            "planted_uplift_abs": EXPERIMENT_UPLIFT,
            "true_checkout_conversion": conv,
            "true_effect_abs": conv["treatment"] - conv["control"],
        },
        "reviews": {
            "aspects": list(ASPECTS),
            "plant": "lapsed_big_spenders mention shipping and service 2-2.5x as often and "
                     "rate them negatively 30 points more often; returned orders rate lower; "
                     "ratings rise with truth_products.quality",
        },
        "counts": {name: frame.height for name, frame in tables.items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
