-- The shop's schema. One database serves all services: order reserves stock
-- and writes its pending order in one transaction, which needs both tables in
-- one database. Each table has one owning service that writes it (comment).

-- user service
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL UNIQUE CHECK (email = lower(email)),
    name          text NOT NULL,
    password_hash text NOT NULL, -- argon2id string from libsodium
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- product service (stock is also written by order, inside the checkout transaction)
CREATE TABLE categories (
    id   serial PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL
);

CREATE TABLE products (
    id          bigserial PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL,
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency    char(3) NOT NULL DEFAULT 'USD',
    category_id int NOT NULL REFERENCES categories (id),
    stock       int NOT NULL CHECK (stock >= 0),
    image_url   text NOT NULL,
    search      tsvector GENERATED ALWAYS AS
                (to_tsvector('english', name || ' ' || description)) STORED
);
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_category_idx ON products (category_id, id);

-- order service
CREATE TABLE orders (
    id               bigserial PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id),
    status           text NOT NULL
                     CHECK (status IN ('pending', 'paid', 'payment_failed', 'confirmed')),
    total_cents      bigint NOT NULL,
    currency         char(3) NOT NULL DEFAULT 'USD',
    shipping_address jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_idx ON orders (user_id, id DESC);
CREATE INDEX orders_pending_idx ON orders (updated_at) WHERE status = 'pending';

CREATE TABLE order_items (
    order_id         bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       bigint NOT NULL REFERENCES products (id),
    name             text NOT NULL,
    quantity         int NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- Transactional outbox: written in the transaction that marks an order paid,
-- deleted once the broker confirmed the publish; a relay retries the rest.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    routing_key text NOT NULL,
    payload     jsonb NOT NULL,
    attempts    int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- payment service: one row per idempotency key (the order id), and every attempt.
CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    amount_cents    bigint NOT NULL,
    currency        char(3) NOT NULL,
    status          text NOT NULL CHECK (status IN ('approved', 'declined')),
    decline_reason  text,
    card_last4      char(4) NOT NULL, -- never the full number
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_attempts (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL,
    amount_cents    bigint NOT NULL,
    card_last4      char(4),
    outcome         text NOT NULL, -- approved, declined, replayed, invalid
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- notification service: one row per confirmation email sent (deduplication).
CREATE TABLE notifications (
    order_id   bigint PRIMARY KEY REFERENCES orders (id),
    email      text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);
