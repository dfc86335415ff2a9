CREATE TABLE "tour_bookings" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"changed_xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"slot_id" uuid NOT NULL,
	"lead_id" uuid NOT NULL,
	"touchpoint_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tour_bookings_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "tour_slots" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"changed_xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"school_id" uuid NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"duration_minutes" integer DEFAULT 60 NOT NULL,
	"capacity" integer NOT NULL,
	"booked" integer DEFAULT 0 NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "tour_slots_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "tour_slots_capacity_check" CHECK ("tour_slots"."capacity" between 1 and 500),
	CONSTRAINT "tour_slots_booked_check" CHECK ("tour_slots"."booked" between 0 and "tour_slots"."capacity"),
	CONSTRAINT "tour_slots_duration_check" CHECK ("tour_slots"."duration_minutes" between 5 and 480)
);
--> statement-breakpoint
ALTER TABLE "tour_bookings" ADD CONSTRAINT "tour_bookings_slot_fk" FOREIGN KEY ("tenant_id","slot_id") REFERENCES "public"."tour_slots"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tour_bookings" ADD CONSTRAINT "tour_bookings_lead_fk" FOREIGN KEY ("tenant_id","lead_id") REFERENCES "public"."leads"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tour_slots" ADD CONSTRAINT "tour_slots_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "tour_bookings_slot_lead_key" ON "tour_bookings" USING btree ("tenant_id","slot_id","lead_id");--> statement-breakpoint
CREATE INDEX "tour_bookings_lead_idx" ON "tour_bookings" USING btree ("tenant_id","lead_id");--> statement-breakpoint
CREATE INDEX "tour_slots_school_starts_idx" ON "tour_slots" USING btree ("tenant_id","school_id","starts_at");