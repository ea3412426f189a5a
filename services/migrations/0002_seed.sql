-- The seed catalogue: 12 categories and 720 products, generated without
-- random() so that every run gives the same rows and tests can rely on ids,
-- names and prices. Product i (1..720) belongs to category ((i - 1) % 12) + 1
-- (the catalogue's first page shows every category) and is the k-th product of
-- its category, k = (i - 1) / 12 (0..59), named adjective[k % 10 + 1] + ' ' +
-- noun[k / 10 + 1]: 10 adjectives x 6 nouns give 60 distinct names per
-- category, and nouns differ between categories, so all 720 names differ.
-- No word of a name is an English stop word, so searching any word of a name
-- finds its product. Prices end in 99 cents: the noun's base price plus $3 per
-- adjective step. Stock runs 20..200.

CREATE TEMP TABLE seed_catalogue (
    id         int PRIMARY KEY,
    slug       text NOT NULL,
    name       text NOT NULL,
    adjectives text[] NOT NULL, -- exactly 10
    nouns      text[] NOT NULL, -- exactly 6
    base_usd   int[] NOT NULL   -- per noun
);

INSERT INTO seed_catalogue (id, slug, name, adjectives, nouns, base_usd) VALUES
(1, 'lighting', 'Lighting',
 ARRAY['Walnut', 'Brass', 'Copper', 'Oak', 'Marble', 'Ceramic', 'Frosted', 'Matte',
       'Rattan', 'Smoked'],
 ARRAY['Desk Lamp', 'Floor Lamp', 'Pendant Light', 'Table Lamp', 'Wall Sconce',
       'Reading Light'],
 ARRAY[49, 129, 89, 59, 69, 39]),
(2, 'furniture', 'Furniture',
 ARRAY['Oak', 'Walnut', 'Teak', 'Birch', 'Velvet', 'Leather', 'Linen', 'Steel', 'Cherry',
       'Bamboo'],
 ARRAY['Armchair', 'Bookshelf', 'Coffee Table', 'Dining Chair', 'Side Table', 'Bench'],
 ARRAY[249, 179, 199, 119, 89, 139]),
(3, 'kitchen', 'Kitchen',
 ARRAY['Copper', 'Enamel', 'Stoneware', 'Carbon', 'Porcelain', 'Bamboo', 'Stainless',
       'Granite', 'Olive', 'Glazed'],
 ARRAY['Skillet', 'Saucepan', 'Mixing Bowl', 'Cutting Board', 'Teapot', 'Colander'],
 ARRAY[45, 55, 25, 35, 30, 22]),
(4, 'bed-bath', 'Bed & Bath',
 ARRAY['Linen', 'Cotton', 'Flannel', 'Waffle', 'Percale', 'Sateen', 'Organic', 'Jersey',
       'Quilted', 'Striped'],
 ARRAY['Duvet Cover', 'Pillowcase Pair', 'Bath Towel', 'Throw Blanket', 'Bathrobe',
       'Sheet Set'],
 ARRAY[119, 39, 29, 79, 89, 99]),
(5, 'office', 'Office',
 ARRAY['Leather', 'Recycled', 'Aluminum', 'Felt', 'Cork', 'Graphite', 'Kraft', 'Canvas',
       'Acrylic', 'Slate'],
 ARRAY['Notebook', 'Desk Organizer', 'Pen Holder', 'Monitor Stand', 'Letter Tray',
       'Desk Mat'],
 ARRAY[15, 35, 19, 59, 25, 39]),
(6, 'outdoor', 'Outdoor & Garden',
 ARRAY['Teak', 'Galvanized', 'Terracotta', 'Cedar', 'Wicker', 'Weatherproof', 'Woven', 'Zinc',
       'Acacia', 'Sandstone'],
 ARRAY['Planter', 'Garden Trowel', 'Garden Bench', 'Bird Feeder', 'Lantern', 'Hammock'],
 ARRAY[29, 19, 189, 35, 45, 99]),
(7, 'audio', 'Audio',
 ARRAY['Wireless', 'Studio', 'Compact', 'Portable', 'Vintage', 'Bluetooth', 'Retro', 'Active',
       'Hybrid', 'Acoustic'],
 ARRAY['Headphones', 'Speaker', 'Earbuds', 'Turntable', 'Soundbar', 'Amplifier'],
 ARRAY[149, 99, 79, 249, 199, 299]),
(8, 'bags', 'Bags & Travel',
 ARRAY['Canvas', 'Leather', 'Nylon', 'Waxed', 'Suede', 'Denim', 'Ripstop', 'Tweed',
       'Corduroy', 'Vegan'],
 ARRAY['Backpack', 'Tote Bag', 'Duffel Bag', 'Messenger Bag', 'Weekender', 'Travel Pouch'],
 ARRAY[89, 39, 99, 79, 129, 25]),
(9, 'footwear', 'Footwear',
 ARRAY['Suede', 'Leather', 'Canvas', 'Knit', 'Rubber', 'Shearling', 'Mesh', 'Nubuck', 'Cork',
       'Wool'],
 ARRAY['Sneakers', 'Boots', 'Loafers', 'Sandals', 'Slippers', 'Trail Runners'],
 ARRAY[89, 149, 119, 59, 39, 129]),
(10, 'apparel', 'Apparel',
 ARRAY['Merino', 'Cotton', 'Linen', 'Flannel', 'Cashmere', 'Denim', 'Fleece', 'Corduroy',
       'Alpaca', 'Hemp'],
 ARRAY['Sweater', 'Shirt', 'Jacket', 'Scarf', 'Beanie', 'Hoodie'],
 ARRAY[89, 49, 159, 39, 25, 69]),
(11, 'toys', 'Toys & Games',
 ARRAY['Wooden', 'Magnetic', 'Plush', 'Classic', 'Deluxe', 'Pocket', 'Giant', 'Rainbow',
       'Felt', 'Retro'],
 ARRAY['Puzzle', 'Chess Set', 'Building Blocks', 'Kite', 'Train Set', 'Board Game'],
 ARRAY[19, 49, 35, 25, 59, 39]),
(12, 'fitness', 'Sports & Fitness',
 ARRAY['Cork', 'Ultralight', 'Rubber', 'Carbon', 'Bamboo', 'Steel', 'Neoprene', 'Nylon',
       'Silicone', 'Pro'],
 ARRAY['Yoga Mat', 'Dumbbell Set', 'Jump Rope', 'Water Bottle', 'Resistance Bands',
       'Foam Roller'],
 ARRAY[45, 89, 15, 25, 29, 35]);

INSERT INTO categories (id, slug, name)
SELECT id, slug, name FROM seed_catalogue ORDER BY id;

INSERT INTO products (id, sku, name, description, price_cents, currency, category_id, stock,
                      image_url)
SELECT g.i,
       'VG-' || lpad(g.i::text, 6, '0'),
       p.name,
       CASE g.i % 4
           WHEN 0 THEN format('The %s is made for daily use and built to last, with %s '
                              'details throughout.', p.name, lower(p.adjective))
           WHEN 1 THEN format('Our %s pairs %s craftsmanship with a timeless %s design.',
                              p.name, lower(p.adjective), lower(p.noun))
           WHEN 2 THEN format('A well made %s %s from the %s range: the %s ships ready to use.',
                              lower(p.adjective), lower(p.noun), c.name, p.name)
           ELSE format('Meet the %s: easy to care for, a pleasure to own and %s through and '
                       'through.', p.name, lower(p.adjective))
       END,
       (c.base_usd[p.noun_idx] + 3 * (p.adj_idx - 1)) * 100 + 99,
       'USD',
       c.id,
       20 + (g.i * 37) % 181,
       '/images/products/' || g.i || '.svg'
FROM generate_series(1, 720) AS g(i)
JOIN seed_catalogue c ON c.id = (g.i - 1) % 12 + 1
CROSS JOIN LATERAL (
    SELECT ((g.i - 1) / 12) % 10 + 1 AS adj_idx, ((g.i - 1) / 12) / 10 + 1 AS noun_idx
) k
CROSS JOIN LATERAL (
    SELECT c.adjectives[k.adj_idx] AS adjective, c.nouns[k.noun_idx] AS noun,
           c.adjectives[k.adj_idx] || ' ' || c.nouns[k.noun_idx] AS name,
           k.adj_idx, k.noun_idx
) p
ORDER BY g.i;

-- Later inserts (tests, admin tools) continue after the seed's explicit ids.
SELECT setval(pg_get_serial_sequence('categories', 'id'), (SELECT max(id) FROM categories));
SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products));

DROP TABLE seed_catalogue;
