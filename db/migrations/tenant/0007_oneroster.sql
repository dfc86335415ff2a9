CREATE TABLE "data_imports" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"changed_xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"format" text DEFAULT 'oneroster' NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"file_name" text,
	"bundle" "bytea",
	"progress" jsonb,
	"report" jsonb,
	"created_by" uuid,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "data_imports_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "data_imports_status_check" CHECK ("data_imports"."status" in ('queued', 'running', 'succeeded', 'failed')),
	CONSTRAINT "data_imports_format_check" CHECK ("data_imports"."format" in ('oneroster'))
);
--> statement-breakpoint
ALTER TABLE "academic_sessions" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "org_units" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "guardians" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "staff" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "students" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "user_roles" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "class_enrollments" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "class_teachers" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "classes" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "courses" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "school_enrollments" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "assignments" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "scores" ADD COLUMN "source_id" text;--> statement-breakpoint
ALTER TABLE "data_imports" ADD CONSTRAINT "data_imports_created_by_fk" FOREIGN KEY ("tenant_id","created_by") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "data_imports_created_idx" ON "data_imports" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "academic_sessions_source_key" ON "academic_sessions" USING btree ("tenant_id","source_id") WHERE "academic_sessions"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "org_units_source_key" ON "org_units" USING btree ("tenant_id","source_id") WHERE "org_units"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "guardians_source_key" ON "guardians" USING btree ("tenant_id","source_id") WHERE "guardians"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "staff_source_key" ON "staff" USING btree ("tenant_id","source_id") WHERE "staff"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "students_source_key" ON "students" USING btree ("tenant_id","source_id") WHERE "students"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "user_roles_source_key" ON "user_roles" USING btree ("tenant_id","source_id") WHERE "user_roles"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "users_source_key" ON "users" USING btree ("tenant_id","source_id") WHERE "users"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "class_enrollments_source_key" ON "class_enrollments" USING btree ("tenant_id","source_id") WHERE "class_enrollments"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "class_teachers_source_key" ON "class_teachers" USING btree ("tenant_id","source_id") WHERE "class_teachers"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "classes_source_key" ON "classes" USING btree ("tenant_id","source_id") WHERE "classes"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "courses_source_key" ON "courses" USING btree ("tenant_id","source_id") WHERE "courses"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "school_enrollments_source_key" ON "school_enrollments" USING btree ("tenant_id","source_id") WHERE "school_enrollments"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "assignments_source_key" ON "assignments" USING btree ("tenant_id","source_id") WHERE "assignments"."source_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "scores_source_key" ON "scores" USING btree ("tenant_id","source_id") WHERE "scores"."source_id" is not null;