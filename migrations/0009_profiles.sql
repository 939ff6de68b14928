-- How a subscription's requests are rendered (`standard-webhooks`, `innervoice`, …), chosen per
-- subscription. Existing subscriptions keep the one they had. Expand only.
ALTER TABLE subscriptions ADD COLUMN profile text NOT NULL DEFAULT 'standard-webhooks';
