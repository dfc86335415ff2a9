CREATE TABLE "academic_sessions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"org_unit_id" uuid NOT NULL,
	"parent_id" uuid,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"start_date" date NOT NULL,
	"end_date" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "academic_sessions_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "academic_sessions_kind_check" CHECK ("academic_sessions"."kind" in ('school_year', 'term', 'grading_period')),
	CONSTRAINT "academic_sessions_dates_check" CHECK ("academic_sessions"."end_date" >= "academic_sessions"."start_date")
);
--> statement-breakpoint
CREATE TABLE "calendar_days" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"school_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"date" date NOT NULL,
	"kind" text DEFAULT 'instructional' NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "calendar_days_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "calendar_days_kind_check" CHECK ("calendar_days"."kind" in ('instructional', 'holiday', 'break', 'teacher_workday', 'weather_closure'))
);
--> statement-breakpoint
CREATE TABLE "org_units" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"parent_id" uuid,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"code" text NOT NULL,
	"timezone" text,
	"grade_levels" text[] DEFAULT '{}'::text[] NOT NULL,
	"enrollment_open" boolean DEFAULT false NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"address" jsonb,
	"phone" text,
	"website" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "org_units_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "org_units_kind_check" CHECK ("org_units"."kind" in ('network', 'region', 'district', 'school', 'microschool', 'campus')),
	CONSTRAINT "org_units_status_check" CHECK ("org_units"."status" in ('active', 'inactive', 'closed')),
	CONSTRAINT "org_units_not_own_parent" CHECK ("org_units"."parent_id" is distinct from "org_units"."id")
);
--> statement-breakpoint
CREATE TABLE "guardians" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	"email" text,
	"phone" text,
	"address" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "guardians_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "permissions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"description" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "permissions_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "permissions_key_key" UNIQUE("tenant_id","key"),
	CONSTRAINT "permissions_key_check" CHECK ("permissions"."key" ~ '^[a-z_]+\.[a-z_]+$')
);
--> statement-breakpoint
CREATE TABLE "refresh_tokens" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"family_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"user_agent" text,
	"ip" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "refresh_tokens_hash_key" UNIQUE("tenant_id","token_hash")
);
--> statement-breakpoint
CREATE TABLE "role_permissions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"role_id" uuid NOT NULL,
	"permission_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "role_permissions_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "role_permissions_key" UNIQUE("tenant_id","role_id","permission_id")
);
--> statement-breakpoint
CREATE TABLE "roles" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"is_system" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "roles_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "roles_key_check" CHECK ("roles"."key" ~ '^[a-z][a-z0-9_]*$')
);
--> statement-breakpoint
CREATE TABLE "staff" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"employee_number" text NOT NULL,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	"email" text,
	"school_id" uuid,
	"title" text,
	"employment_status" text DEFAULT 'active' NOT NULL,
	"employment_type" text DEFAULT 'full_time' NOT NULL,
	"subjects" text[] DEFAULT '{}'::text[] NOT NULL,
	"hire_date" date,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "staff_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "staff_employment_status_check" CHECK ("staff"."employment_status" in ('active', 'on_leave', 'inactive', 'terminated')),
	CONSTRAINT "staff_employment_type_check" CHECK ("staff"."employment_type" in ('full_time', 'part_time', 'substitute', 'contract'))
);
--> statement-breakpoint
CREATE TABLE "student_guardians" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"student_id" uuid NOT NULL,
	"guardian_id" uuid NOT NULL,
	"relationship" text NOT NULL,
	"is_primary" boolean DEFAULT false NOT NULL,
	"can_pickup" boolean DEFAULT true NOT NULL,
	"lives_with" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "student_guardians_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "student_guardians_relationship_check" CHECK ("student_guardians"."relationship" in ('mother', 'father', 'parent', 'stepparent', 'grandparent', 'guardian', 'foster_parent', 'other'))
);
--> statement-breakpoint
CREATE TABLE "students" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"student_number" text NOT NULL,
	"first_name" text NOT NULL,
	"middle_name" text,
	"last_name" text NOT NULL,
	"preferred_name" text,
	"date_of_birth" date,
	"gender" text,
	"grade_level" text NOT NULL,
	"school_id" uuid NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"iep" boolean DEFAULT false NOT NULL,
	"section_504" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "students_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "students_status_check" CHECK ("students"."status" in ('applicant', 'active', 'inactive', 'graduated', 'transferred', 'withdrawn'))
);
--> statement-breakpoint
CREATE TABLE "user_roles" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"role_id" uuid NOT NULL,
	"org_unit_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "user_roles_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"password_hash" text,
	"first_name" text NOT NULL,
	"last_name" text NOT NULL,
	"phone" text,
	"status" text DEFAULT 'active' NOT NULL,
	"failed_login_count" integer DEFAULT 0 NOT NULL,
	"locked_until" timestamp with time zone,
	"last_login_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "users_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "users_status_check" CHECK ("users"."status" in ('invited', 'active', 'disabled')),
	CONSTRAINT "users_failed_login_count_check" CHECK ("users"."failed_login_count" >= 0),
	CONSTRAINT "users_email_check" CHECK (position('@' in "users"."email") > 1)
);
--> statement-breakpoint
CREATE TABLE "class_enrollments" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"class_id" uuid NOT NULL,
	"student_id" uuid NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"entry_date" date NOT NULL,
	"exit_date" date,
	"final_percent" numeric(5, 2),
	"final_grade" text,
	"grade_points" numeric(3, 2),
	"credits_attempted" numeric(4, 2),
	"credits_earned" numeric(4, 2),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "class_enrollments_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "class_enrollments_status_check" CHECK ("class_enrollments"."status" in ('active', 'dropped', 'completed', 'withdrawn')),
	CONSTRAINT "class_enrollments_dates_check" CHECK ("class_enrollments"."exit_date" is null or "class_enrollments"."exit_date" >= "class_enrollments"."entry_date"),
	CONSTRAINT "class_enrollments_points_check" CHECK ("class_enrollments"."grade_points" is null or "class_enrollments"."grade_points" between 0 and 5),
	CONSTRAINT "class_enrollments_percent_check" CHECK ("class_enrollments"."final_percent" is null or "class_enrollments"."final_percent" between 0 and 200)
);
--> statement-breakpoint
CREATE TABLE "class_teachers" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"class_id" uuid NOT NULL,
	"staff_id" uuid NOT NULL,
	"role" text DEFAULT 'primary' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "class_teachers_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "class_teachers_role_check" CHECK ("class_teachers"."role" in ('primary', 'co_teacher', 'aide'))
);
--> statement-breakpoint
CREATE TABLE "classes" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"course_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"section" text NOT NULL,
	"name" text NOT NULL,
	"room" text,
	"schedule" jsonb,
	"capacity" integer,
	"grading_scale_id" uuid,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "classes_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "classes_status_check" CHECK ("classes"."status" in ('active', 'cancelled', 'completed')),
	CONSTRAINT "classes_capacity_check" CHECK ("classes"."capacity" is null or "classes"."capacity" > 0)
);
--> statement-breakpoint
CREATE TABLE "courses" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"org_unit_id" uuid,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"subject" text NOT NULL,
	"credits" numeric(4, 2) DEFAULT 1 NOT NULL,
	"grade_levels" text[] DEFAULT '{}'::text[] NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "courses_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "courses_credits_check" CHECK ("courses"."credits" >= 0)
);
--> statement-breakpoint
CREATE TABLE "grading_scales" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"bands" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "grading_scales_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "grading_scales_bands_check" CHECK (jsonb_typeof("grading_scales"."bands") = 'array')
);
--> statement-breakpoint
CREATE TABLE "school_enrollments" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"student_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"grade_level" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"entry_date" date NOT NULL,
	"exit_date" date,
	"exit_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "school_enrollments_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "school_enrollments_status_check" CHECK ("school_enrollments"."status" in ('active', 'withdrawn', 'transferred', 'graduated', 'completed')),
	CONSTRAINT "school_enrollments_dates_check" CHECK ("school_enrollments"."exit_date" is null or "school_enrollments"."exit_date" >= "school_enrollments"."entry_date")
);
--> statement-breakpoint
CREATE TABLE "attendance_records" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"student_id" uuid NOT NULL,
	"school_id" uuid NOT NULL,
	"class_id" uuid,
	"date" date NOT NULL,
	"period" text,
	"status" text NOT NULL,
	"reason" text,
	"note" text,
	"marked_by" uuid,
	"marked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "attendance_records_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "attendance_records_status_check" CHECK ("attendance_records"."status" in ('present', 'absent', 'tardy', 'excused_absence', 'early_departure'))
);
--> statement-breakpoint
CREATE TABLE "assignments" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"class_id" uuid NOT NULL,
	"title" text NOT NULL,
	"category" text NOT NULL,
	"points_possible" numeric(7, 2) NOT NULL,
	"weight" numeric(5, 2) DEFAULT 1 NOT NULL,
	"assigned_date" date,
	"due_date" date NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "assignments_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "assignments_category_check" CHECK ("assignments"."category" in ('homework', 'classwork', 'quiz', 'test', 'project', 'participation', 'final')),
	CONSTRAINT "assignments_points_check" CHECK ("assignments"."points_possible" > 0),
	CONSTRAINT "assignments_weight_check" CHECK ("assignments"."weight" >= 0)
);
--> statement-breakpoint
CREATE TABLE "scores" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"assignment_id" uuid NOT NULL,
	"student_id" uuid NOT NULL,
	"points" numeric(7, 2),
	"is_late" boolean DEFAULT false NOT NULL,
	"is_missing" boolean DEFAULT false NOT NULL,
	"is_excused" boolean DEFAULT false NOT NULL,
	"comment" text,
	"graded_by" uuid,
	"graded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "scores_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "scores_points_check" CHECK ("scores"."points" is null or "scores"."points" >= 0),
	CONSTRAINT "scores_excused_check" CHECK (not ("scores"."is_excused" and "scores"."is_missing"))
);
--> statement-breakpoint
CREATE TABLE "funnel_stages" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"is_terminal" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "funnel_stages_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "funnel_stages_key_check" CHECK ("funnel_stages"."key" ~ '^[a-z][a-z0-9_]*$'),
	CONSTRAINT "funnel_stages_position_check" CHECK ("funnel_stages"."position" >= 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response_status" integer NOT NULL,
	"response_body" jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "idempotency_keys_key" UNIQUE("tenant_id","scope","key"),
	CONSTRAINT "idempotency_keys_key_check" CHECK (length("idempotency_keys"."key") between 1 and 255)
);
--> statement-breakpoint
CREATE TABLE "lead_stage_history" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"lead_id" uuid NOT NULL,
	"from_stage" text,
	"to_stage" text NOT NULL,
	"changed_by" uuid,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lead_stage_history_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "lead_touchpoints" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"lead_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"channel" text,
	"utm_source" text,
	"utm_medium" text,
	"utm_campaign" text,
	"utm_term" text,
	"utm_content" text,
	"referrer" text,
	"landing_page" text,
	"details" jsonb,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lead_touchpoints_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "lead_touchpoints_kind_check" CHECK ("lead_touchpoints"."kind" in ('inquiry', 'tour_request', 'tour_attended', 'application', 'email', 'call', 'event', 'note'))
);
--> statement-breakpoint
CREATE TABLE "leads" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"guardian_name" text NOT NULL,
	"email" text NOT NULL,
	"phone" text,
	"student_first_name" text,
	"grade_interest" text,
	"school_id" uuid,
	"stage" text DEFAULT 'inquiry' NOT NULL,
	"score" integer DEFAULT 0 NOT NULL,
	"owner_user_id" uuid,
	"lost_reason" text,
	"lost_at" timestamp with time zone,
	"converted_student_id" uuid,
	"consent" boolean DEFAULT false NOT NULL,
	"message" text,
	"source" text,
	"first_touch_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "leads_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "leads_email_check" CHECK (position('@' in "leads"."email") > 1),
	CONSTRAINT "leads_lost_check" CHECK (("leads"."stage" = 'lost') = ("leads"."lost_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "billing_account_guardians" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"guardian_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "billing_account_guardians_pkey" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "billing_accounts" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"account_number" text NOT NULL,
	"name" text NOT NULL,
	"primary_guardian_id" uuid,
	"school_id" uuid,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "billing_accounts_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "billing_accounts_status_check" CHECK ("billing_accounts"."status" in ('active', 'closed'))
);
--> statement-breakpoint
CREATE TABLE "invoice_lines" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"invoice_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"description" text NOT NULL,
	"quantity" integer DEFAULT 1 NOT NULL,
	"unit_amount_cents" integer NOT NULL,
	"amount_cents" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "invoice_lines_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "invoice_lines_quantity_check" CHECK ("invoice_lines"."quantity" > 0),
	CONSTRAINT "invoice_lines_amount_check" CHECK ("invoice_lines"."amount_cents" = "invoice_lines"."quantity" * "invoice_lines"."unit_amount_cents")
);
--> statement-breakpoint
CREATE TABLE "invoices" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"number" text NOT NULL,
	"account_id" uuid NOT NULL,
	"student_id" uuid,
	"school_id" uuid,
	"issue_date" date,
	"due_date" date,
	"status" text DEFAULT 'draft' NOT NULL,
	"currency" text DEFAULT 'USD' NOT NULL,
	"subtotal_cents" integer DEFAULT 0 NOT NULL,
	"total_cents" integer DEFAULT 0 NOT NULL,
	"amount_paid_cents" integer DEFAULT 0 NOT NULL,
	"balance_cents" integer DEFAULT 0 NOT NULL,
	"memo" text,
	"issued_at" timestamp with time zone,
	"paid_at" timestamp with time zone,
	"voided_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "invoices_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "invoices_status_check" CHECK ("invoices"."status" in ('draft', 'open', 'paid', 'void', 'uncollectible')),
	CONSTRAINT "invoices_amounts_check" CHECK ("invoices"."subtotal_cents" >= 0 and "invoices"."total_cents" >= 0 and "invoices"."amount_paid_cents" >= 0),
	CONSTRAINT "invoices_balance_check" CHECK ("invoices"."balance_cents" = "invoices"."total_cents" - "invoices"."amount_paid_cents"),
	CONSTRAINT "invoices_overpaid_check" CHECK ("invoices"."amount_paid_cents" <= "invoices"."total_cents"),
	CONSTRAINT "invoices_dates_check" CHECK ("invoices"."due_date" is null or "invoices"."issue_date" is null or "invoices"."due_date" >= "invoices"."issue_date"),
	CONSTRAINT "invoices_issued_check" CHECK ("invoices"."status" = 'draft' or ("invoices"."issue_date" is not null and "invoices"."due_date" is not null))
);
--> statement-breakpoint
CREATE TABLE "payment_allocations" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"payment_id" uuid NOT NULL,
	"invoice_id" uuid NOT NULL,
	"amount_cents" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "payment_allocations_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "payment_allocations_amount_check" CHECK ("payment_allocations"."amount_cents" > 0)
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"method" text NOT NULL,
	"amount_cents" integer NOT NULL,
	"unapplied_cents" integer DEFAULT 0 NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reference" text,
	"esa_disbursement_id" uuid,
	"status" text DEFAULT 'succeeded' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "payments_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "payments_method_check" CHECK ("payments"."method" in ('card', 'ach', 'esa', 'check', 'cash')),
	CONSTRAINT "payments_status_check" CHECK ("payments"."status" in ('succeeded', 'refunded', 'failed')),
	CONSTRAINT "payments_amount_check" CHECK ("payments"."amount_cents" > 0),
	CONSTRAINT "payments_unapplied_check" CHECK ("payments"."unapplied_cents" between 0 and "payments"."amount_cents"),
	CONSTRAINT "payments_esa_check" CHECK ("payments"."esa_disbursement_id" is null or "payments"."method" = 'esa')
);
--> statement-breakpoint
CREATE TABLE "esa_applications" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"student_id" uuid NOT NULL,
	"program_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"school_id" uuid,
	"status" text DEFAULT 'draft' NOT NULL,
	"amount_requested_cents" integer DEFAULT 0 NOT NULL,
	"amount_awarded_cents" integer,
	"submitted_at" timestamp with time zone,
	"decided_at" timestamp with time zone,
	"decision_note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "esa_applications_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "esa_applications_status_check" CHECK ("esa_applications"."status" in ('draft', 'submitted', 'under_review', 'approved', 'denied', 'withdrawn')),
	CONSTRAINT "esa_applications_amounts_check" CHECK ("esa_applications"."amount_requested_cents" >= 0 and ("esa_applications"."amount_awarded_cents" is null or "esa_applications"."amount_awarded_cents" >= 0)),
	CONSTRAINT "esa_applications_submitted_check" CHECK ("esa_applications"."status" in ('draft') or "esa_applications"."submitted_at" is not null or "esa_applications"."status" = 'withdrawn'),
	CONSTRAINT "esa_applications_decided_check" CHECK (("esa_applications"."status" in ('approved', 'denied')) = ("esa_applications"."decided_at" is not null)),
	CONSTRAINT "esa_applications_award_check" CHECK ("esa_applications"."status" = 'approved' or "esa_applications"."amount_awarded_cents" is null)
);
--> statement-breakpoint
CREATE TABLE "esa_disbursements" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"application_id" uuid NOT NULL,
	"amount_cents" integer NOT NULL,
	"scheduled_on" date NOT NULL,
	"disbursed_on" date,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"reference" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "esa_disbursements_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "esa_disbursements_status_check" CHECK ("esa_disbursements"."status" in ('scheduled', 'disbursed', 'returned', 'cancelled')),
	CONSTRAINT "esa_disbursements_amount_check" CHECK ("esa_disbursements"."amount_cents" > 0),
	CONSTRAINT "esa_disbursements_disbursed_check" CHECK (("esa_disbursements"."status" in ('disbursed', 'returned')) = ("esa_disbursements"."disbursed_on" is not null))
);
--> statement-breakpoint
CREATE TABLE "esa_programs" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"state" text NOT NULL,
	"award_amount_cents" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "esa_programs_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "esa_programs_state_check" CHECK ("esa_programs"."state" ~ '^[A-Z]{2}$'),
	CONSTRAINT "esa_programs_award_check" CHECK ("esa_programs"."award_amount_cents" >= 0)
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"actor_user_id" uuid,
	"actor_kind" text NOT NULL,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" uuid,
	"before" jsonb,
	"after" jsonb,
	"request_id" text,
	"ip" "inet",
	"user_agent" text,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_log_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "audit_log_actor_kind_check" CHECK ("audit_log"."actor_kind" in ('user', 'public', 'system', 'platform'))
);
--> statement-breakpoint
CREATE TABLE "record_access_log" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"student_id" uuid NOT NULL,
	"access" text NOT NULL,
	"route" text,
	"request_id" text,
	"ip" "inet",
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "record_access_log_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "record_access_log_access_check" CHECK ("record_access_log"."access" in ('read', 'list', 'export', 'erase'))
);
--> statement-breakpoint
CREATE TABLE "dashboard_pages" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"page" text NOT NULL,
	"scope_kind" text NOT NULL,
	"scope_id" uuid,
	"html" text NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"refresh_run_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "dashboard_pages_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "dashboard_pages_page_check" CHECK ("dashboard_pages"."page" in ('overview', 'admissions', 'attendance', 'academics', 'finance')),
	CONSTRAINT "dashboard_pages_scope_check" CHECK ("dashboard_pages"."scope_kind" in ('tenant', 'school')),
	CONSTRAINT "dashboard_pages_scope_id_check" CHECK (("dashboard_pages"."scope_kind" = 'tenant') = ("dashboard_pages"."scope_id" is null))
);
--> statement-breakpoint
CREATE TABLE "metric_snapshots" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"metric" text NOT NULL,
	"scope_kind" text NOT NULL,
	"scope_id" uuid,
	"period" text NOT NULL,
	"payload" jsonb NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"refresh_run_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "metric_snapshots_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "metric_snapshots_metric_check" CHECK ("metric_snapshots"."metric" in ('lead_funnel', 'attendance', 'grades', 'esa', 'finance')),
	CONSTRAINT "metric_snapshots_scope_check" CHECK ("metric_snapshots"."scope_kind" in ('tenant', 'school')),
	CONSTRAINT "metric_snapshots_scope_id_check" CHECK (("metric_snapshots"."scope_kind" = 'tenant') = ("metric_snapshots"."scope_id" is null))
);
--> statement-breakpoint
ALTER TABLE "academic_sessions" ADD CONSTRAINT "academic_sessions_org_unit_fk" FOREIGN KEY ("tenant_id","org_unit_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "academic_sessions" ADD CONSTRAINT "academic_sessions_parent_fk" FOREIGN KEY ("tenant_id","parent_id") REFERENCES "public"."academic_sessions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calendar_days" ADD CONSTRAINT "calendar_days_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "calendar_days" ADD CONSTRAINT "calendar_days_session_fk" FOREIGN KEY ("tenant_id","session_id") REFERENCES "public"."academic_sessions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "org_units" ADD CONSTRAINT "org_units_parent_fk" FOREIGN KEY ("tenant_id","parent_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "guardians" ADD CONSTRAINT "guardians_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_role_fk" FOREIGN KEY ("tenant_id","role_id") REFERENCES "public"."roles"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_permissions" ADD CONSTRAINT "role_permissions_permission_fk" FOREIGN KEY ("tenant_id","permission_id") REFERENCES "public"."permissions"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff" ADD CONSTRAINT "staff_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "staff" ADD CONSTRAINT "staff_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "student_guardians" ADD CONSTRAINT "student_guardians_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "student_guardians" ADD CONSTRAINT "student_guardians_guardian_fk" FOREIGN KEY ("tenant_id","guardian_id") REFERENCES "public"."guardians"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "students" ADD CONSTRAINT "students_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "students" ADD CONSTRAINT "students_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_role_fk" FOREIGN KEY ("tenant_id","role_id") REFERENCES "public"."roles"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_roles" ADD CONSTRAINT "user_roles_org_unit_fk" FOREIGN KEY ("tenant_id","org_unit_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "class_enrollments" ADD CONSTRAINT "class_enrollments_class_fk" FOREIGN KEY ("tenant_id","class_id") REFERENCES "public"."classes"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "class_enrollments" ADD CONSTRAINT "class_enrollments_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "class_teachers" ADD CONSTRAINT "class_teachers_class_fk" FOREIGN KEY ("tenant_id","class_id") REFERENCES "public"."classes"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "class_teachers" ADD CONSTRAINT "class_teachers_staff_fk" FOREIGN KEY ("tenant_id","staff_id") REFERENCES "public"."staff"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "classes" ADD CONSTRAINT "classes_course_fk" FOREIGN KEY ("tenant_id","course_id") REFERENCES "public"."courses"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "classes" ADD CONSTRAINT "classes_session_fk" FOREIGN KEY ("tenant_id","session_id") REFERENCES "public"."academic_sessions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "classes" ADD CONSTRAINT "classes_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "classes" ADD CONSTRAINT "classes_grading_scale_fk" FOREIGN KEY ("tenant_id","grading_scale_id") REFERENCES "public"."grading_scales"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "courses" ADD CONSTRAINT "courses_org_unit_fk" FOREIGN KEY ("tenant_id","org_unit_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "school_enrollments" ADD CONSTRAINT "school_enrollments_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "school_enrollments" ADD CONSTRAINT "school_enrollments_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "school_enrollments" ADD CONSTRAINT "school_enrollments_session_fk" FOREIGN KEY ("tenant_id","session_id") REFERENCES "public"."academic_sessions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attendance_records" ADD CONSTRAINT "attendance_records_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attendance_records" ADD CONSTRAINT "attendance_records_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attendance_records" ADD CONSTRAINT "attendance_records_class_fk" FOREIGN KEY ("tenant_id","class_id") REFERENCES "public"."classes"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attendance_records" ADD CONSTRAINT "attendance_records_marked_by_fk" FOREIGN KEY ("tenant_id","marked_by") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "assignments" ADD CONSTRAINT "assignments_class_fk" FOREIGN KEY ("tenant_id","class_id") REFERENCES "public"."classes"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scores" ADD CONSTRAINT "scores_assignment_fk" FOREIGN KEY ("tenant_id","assignment_id") REFERENCES "public"."assignments"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scores" ADD CONSTRAINT "scores_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scores" ADD CONSTRAINT "scores_graded_by_fk" FOREIGN KEY ("tenant_id","graded_by") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_stage_history" ADD CONSTRAINT "lead_stage_history_lead_fk" FOREIGN KEY ("tenant_id","lead_id") REFERENCES "public"."leads"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_stage_history" ADD CONSTRAINT "lead_stage_history_changed_by_fk" FOREIGN KEY ("tenant_id","changed_by") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lead_touchpoints" ADD CONSTRAINT "lead_touchpoints_lead_fk" FOREIGN KEY ("tenant_id","lead_id") REFERENCES "public"."leads"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_owner_fk" FOREIGN KEY ("tenant_id","owner_user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_converted_student_fk" FOREIGN KEY ("tenant_id","converted_student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_account_guardians" ADD CONSTRAINT "billing_account_guardians_account_fk" FOREIGN KEY ("tenant_id","account_id") REFERENCES "public"."billing_accounts"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_account_guardians" ADD CONSTRAINT "billing_account_guardians_guardian_fk" FOREIGN KEY ("tenant_id","guardian_id") REFERENCES "public"."guardians"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_accounts" ADD CONSTRAINT "billing_accounts_guardian_fk" FOREIGN KEY ("tenant_id","primary_guardian_id") REFERENCES "public"."guardians"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "billing_accounts" ADD CONSTRAINT "billing_accounts_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_invoice_fk" FOREIGN KEY ("tenant_id","invoice_id") REFERENCES "public"."invoices"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_account_fk" FOREIGN KEY ("tenant_id","account_id") REFERENCES "public"."billing_accounts"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_allocations" ADD CONSTRAINT "payment_allocations_payment_fk" FOREIGN KEY ("tenant_id","payment_id") REFERENCES "public"."payments"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_allocations" ADD CONSTRAINT "payment_allocations_invoice_fk" FOREIGN KEY ("tenant_id","invoice_id") REFERENCES "public"."invoices"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_account_fk" FOREIGN KEY ("tenant_id","account_id") REFERENCES "public"."billing_accounts"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_esa_disbursement_fk" FOREIGN KEY ("tenant_id","esa_disbursement_id") REFERENCES "public"."esa_disbursements"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "esa_applications" ADD CONSTRAINT "esa_applications_student_fk" FOREIGN KEY ("tenant_id","student_id") REFERENCES "public"."students"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "esa_applications" ADD CONSTRAINT "esa_applications_program_fk" FOREIGN KEY ("tenant_id","program_id") REFERENCES "public"."esa_programs"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "esa_applications" ADD CONSTRAINT "esa_applications_session_fk" FOREIGN KEY ("tenant_id","session_id") REFERENCES "public"."academic_sessions"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "esa_applications" ADD CONSTRAINT "esa_applications_school_fk" FOREIGN KEY ("tenant_id","school_id") REFERENCES "public"."org_units"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "esa_disbursements" ADD CONSTRAINT "esa_disbursements_application_fk" FOREIGN KEY ("tenant_id","application_id") REFERENCES "public"."esa_applications"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "academic_sessions_org_unit_idx" ON "academic_sessions" USING btree ("tenant_id","org_unit_id","start_date");--> statement-breakpoint
CREATE INDEX "academic_sessions_parent_idx" ON "academic_sessions" USING btree ("tenant_id","parent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "calendar_days_school_date_key" ON "calendar_days" USING btree ("tenant_id","school_id","date") WHERE "calendar_days"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "calendar_days_session_idx" ON "calendar_days" USING btree ("tenant_id","session_id");--> statement-breakpoint
CREATE UNIQUE INDEX "org_units_code_key" ON "org_units" USING btree ("tenant_id","code") WHERE "org_units"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "org_units_parent_idx" ON "org_units" USING btree ("tenant_id","parent_id");--> statement-breakpoint
CREATE INDEX "guardians_user_idx" ON "guardians" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE INDEX "guardians_email_idx" ON "guardians" USING btree ("tenant_id",lower("email"));--> statement-breakpoint
CREATE INDEX "refresh_tokens_family_idx" ON "refresh_tokens" USING btree ("tenant_id","family_id");--> statement-breakpoint
CREATE UNIQUE INDEX "roles_key_key" ON "roles" USING btree ("tenant_id","key") WHERE "roles"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "staff_employee_number_key" ON "staff" USING btree ("tenant_id","employee_number") WHERE "staff"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "staff_school_idx" ON "staff" USING btree ("tenant_id","school_id");--> statement-breakpoint
CREATE INDEX "staff_user_idx" ON "staff" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "student_guardians_key" ON "student_guardians" USING btree ("tenant_id","student_id","guardian_id") WHERE "student_guardians"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "student_guardians_guardian_idx" ON "student_guardians" USING btree ("tenant_id","guardian_id");--> statement-breakpoint
CREATE UNIQUE INDEX "students_number_key" ON "students" USING btree ("tenant_id","student_number") WHERE "students"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "students_school_idx" ON "students" USING btree ("tenant_id","school_id","grade_level");--> statement-breakpoint
CREATE INDEX "students_user_idx" ON "students" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_roles_key" ON "user_roles" USING btree ("tenant_id","user_id","role_id",coalesce("org_unit_id", '00000000-0000-0000-0000-000000000000'::uuid)) WHERE "user_roles"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "user_roles_role_idx" ON "user_roles" USING btree ("tenant_id","role_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree ("tenant_id",lower("email")) WHERE "users"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "class_enrollments_key" ON "class_enrollments" USING btree ("tenant_id","class_id","student_id") WHERE "class_enrollments"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "class_enrollments_student_idx" ON "class_enrollments" USING btree ("tenant_id","student_id");--> statement-breakpoint
CREATE UNIQUE INDEX "class_teachers_key" ON "class_teachers" USING btree ("tenant_id","class_id","staff_id") WHERE "class_teachers"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "class_teachers_staff_idx" ON "class_teachers" USING btree ("tenant_id","staff_id");--> statement-breakpoint
CREATE UNIQUE INDEX "classes_section_key" ON "classes" USING btree ("tenant_id","course_id","session_id","school_id","section") WHERE "classes"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "classes_school_session_idx" ON "classes" USING btree ("tenant_id","school_id","session_id");--> statement-breakpoint
CREATE UNIQUE INDEX "courses_code_key" ON "courses" USING btree ("tenant_id","code") WHERE "courses"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "courses_subject_idx" ON "courses" USING btree ("tenant_id","subject");--> statement-breakpoint
CREATE UNIQUE INDEX "grading_scales_default_key" ON "grading_scales" USING btree ("tenant_id") WHERE "grading_scales"."is_default" and "grading_scales"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "school_enrollments_key" ON "school_enrollments" USING btree ("tenant_id","student_id","school_id","session_id","entry_date") WHERE "school_enrollments"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "school_enrollments_school_idx" ON "school_enrollments" USING btree ("tenant_id","school_id","session_id");--> statement-breakpoint
CREATE INDEX "school_enrollments_student_idx" ON "school_enrollments" USING btree ("tenant_id","student_id");--> statement-breakpoint
CREATE UNIQUE INDEX "attendance_records_key" ON "attendance_records" USING btree ("tenant_id","student_id","date",coalesce("period", '')) WHERE "attendance_records"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "attendance_records_school_date_idx" ON "attendance_records" USING btree ("tenant_id","school_id","date");--> statement-breakpoint
CREATE INDEX "attendance_records_class_date_idx" ON "attendance_records" USING btree ("tenant_id","class_id","date");--> statement-breakpoint
CREATE INDEX "assignments_class_due_idx" ON "assignments" USING btree ("tenant_id","class_id","due_date");--> statement-breakpoint
CREATE UNIQUE INDEX "scores_key" ON "scores" USING btree ("tenant_id","assignment_id","student_id") WHERE "scores"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "scores_student_idx" ON "scores" USING btree ("tenant_id","student_id");--> statement-breakpoint
CREATE UNIQUE INDEX "funnel_stages_key_key" ON "funnel_stages" USING btree ("tenant_id","key") WHERE "funnel_stages"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "funnel_stages_position_key" ON "funnel_stages" USING btree ("tenant_id","position") WHERE "funnel_stages"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_idx" ON "idempotency_keys" USING btree ("tenant_id","expires_at");--> statement-breakpoint
CREATE INDEX "lead_stage_history_lead_idx" ON "lead_stage_history" USING btree ("tenant_id","lead_id","changed_at");--> statement-breakpoint
CREATE INDEX "lead_touchpoints_lead_idx" ON "lead_touchpoints" USING btree ("tenant_id","lead_id","occurred_at");--> statement-breakpoint
CREATE UNIQUE INDEX "leads_email_key" ON "leads" USING btree ("tenant_id",lower("email")) WHERE "leads"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "leads_stage_idx" ON "leads" USING btree ("tenant_id","stage");--> statement-breakpoint
CREATE INDEX "leads_school_idx" ON "leads" USING btree ("tenant_id","school_id");--> statement-breakpoint
CREATE INDEX "leads_source_idx" ON "leads" USING btree ("tenant_id","source");--> statement-breakpoint
CREATE INDEX "leads_first_touch_idx" ON "leads" USING btree ("tenant_id","first_touch_at");--> statement-breakpoint
CREATE UNIQUE INDEX "billing_account_guardians_key" ON "billing_account_guardians" USING btree ("tenant_id","account_id","guardian_id") WHERE "billing_account_guardians"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "billing_account_guardians_guardian_idx" ON "billing_account_guardians" USING btree ("tenant_id","guardian_id");--> statement-breakpoint
CREATE UNIQUE INDEX "billing_accounts_number_key" ON "billing_accounts" USING btree ("tenant_id","account_number") WHERE "billing_accounts"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "billing_accounts_guardian_idx" ON "billing_accounts" USING btree ("tenant_id","primary_guardian_id");--> statement-breakpoint
CREATE INDEX "invoice_lines_invoice_idx" ON "invoice_lines" USING btree ("tenant_id","invoice_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "invoices_number_key" ON "invoices" USING btree ("tenant_id","number");--> statement-breakpoint
CREATE INDEX "invoices_account_idx" ON "invoices" USING btree ("tenant_id","account_id");--> statement-breakpoint
CREATE INDEX "invoices_status_due_idx" ON "invoices" USING btree ("tenant_id","status","due_date");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_allocations_key" ON "payment_allocations" USING btree ("tenant_id","payment_id","invoice_id") WHERE "payment_allocations"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "payment_allocations_invoice_idx" ON "payment_allocations" USING btree ("tenant_id","invoice_id");--> statement-breakpoint
CREATE INDEX "payments_account_idx" ON "payments" USING btree ("tenant_id","account_id","received_at");--> statement-breakpoint
CREATE INDEX "payments_disbursement_idx" ON "payments" USING btree ("tenant_id","esa_disbursement_id");--> statement-breakpoint
CREATE UNIQUE INDEX "esa_applications_key" ON "esa_applications" USING btree ("tenant_id","student_id","program_id","session_id") WHERE "esa_applications"."deleted_at" is null and "esa_applications"."status" <> 'withdrawn';--> statement-breakpoint
CREATE INDEX "esa_applications_status_idx" ON "esa_applications" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE INDEX "esa_applications_student_idx" ON "esa_applications" USING btree ("tenant_id","student_id");--> statement-breakpoint
CREATE INDEX "esa_disbursements_application_idx" ON "esa_disbursements" USING btree ("tenant_id","application_id");--> statement-breakpoint
CREATE UNIQUE INDEX "esa_programs_name_key" ON "esa_programs" USING btree ("tenant_id","state","name") WHERE "esa_programs"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "audit_log_entity_idx" ON "audit_log" USING btree ("tenant_id","entity_type","entity_id","occurred_at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("tenant_id","actor_user_id","occurred_at");--> statement-breakpoint
CREATE INDEX "audit_log_occurred_idx" ON "audit_log" USING btree ("tenant_id","occurred_at");--> statement-breakpoint
CREATE INDEX "record_access_log_student_idx" ON "record_access_log" USING btree ("tenant_id","student_id","occurred_at");--> statement-breakpoint
CREATE INDEX "record_access_log_user_idx" ON "record_access_log" USING btree ("tenant_id","user_id","occurred_at");--> statement-breakpoint
CREATE UNIQUE INDEX "dashboard_pages_key" ON "dashboard_pages" USING btree ("tenant_id","page","scope_kind",coalesce("scope_id", '00000000-0000-0000-0000-000000000000'::uuid)) WHERE "dashboard_pages"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "dashboard_pages_scope_idx" ON "dashboard_pages" USING btree ("tenant_id","scope_kind","scope_id");--> statement-breakpoint
CREATE UNIQUE INDEX "metric_snapshots_key" ON "metric_snapshots" USING btree ("tenant_id","metric","scope_kind",coalesce("scope_id", '00000000-0000-0000-0000-000000000000'::uuid),"period") WHERE "metric_snapshots"."deleted_at" is null;