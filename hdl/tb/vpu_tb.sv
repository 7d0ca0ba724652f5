// Testbench of the vector unit alone (tinyaccel_vpu; used by hdl/tests/vpu.rs). It models
// the input and weight scratchpads as LINES lines of LANES bytes with registered reads
// (EDGE_LATENCY = 1), as the system does.
//   +dir=DIR: DIR/isp.hex and DIR/wsp.hex (one byte per line, $readmemh), DIR/cases.txt
//   (one case per line: `SETCMD A_LINE B_LINE M K`, SETCMD the 128-bit VSET command in
//   hex, the rest decimal). For each case the testbench raises `vset` for one cycle, then
//   `start` for one cycle (tau = 0) and writes to DIR/out.txt a line `case I`, then for
//   every cycle tau from the start until four cycles after the M-th output:
//     `r TAU LINE` for an input read, `w TAU LINE` for a weight read,
//     `o TAU V0 .. V(LANES-1)` (signed decimal) for an output (`out_valid`).
// A case starts with `clear` (the mode registers' reset at every start).
`default_nettype none
module vpu_tb #(
    parameter int LANES = 4,
    parameter int LINES = 64,
    parameter int DEPTHWISE = 1,
    parameter int POOLING = 1,
    parameter int ELTWISE = 1
);
    logic clk = 1'b0;
    logic rst = 1'b1;
    always #5 clk <= ~clk;

    logic clear = 1'b0, vset = 1'b0, start = 1'b0;
    logic [127:0] set_cmd = 128'd0;
    logic [23:0] c_aline = 24'd0, c_bline = 24'd0;
    logic [15:0] c_m = 16'd0, c_k = 16'd0;
    logic in_rd, w_rd, out_valid;
    logic [31:0] in_line, w_line;
    logic [8*LANES-1:0] a_vec, b_vec;
    logic [32*LANES-1:0] out_vec;
    logic [1:0] mode_out;

    tinyaccel_vpu #(.LANES(LANES), .DEPTHWISE(DEPTHWISE), .POOLING(POOLING), .ELTWISE(ELTWISE)) dut (
        .clk(clk), .rst(rst), .clear(clear), .vset(vset), .set_cmd(set_cmd), .start(start),
        .c_aline(c_aline), .c_bline(c_bline), .c_m(c_m), .c_k(c_k),
        .in_rd(in_rd), .in_line(in_line), .w_rd(w_rd), .w_line(w_line),
        .a_vec(a_vec), .b_vec(b_vec), .out_valid(out_valid), .out_vec(out_vec),
        .mode_out(mode_out)
    );

    logic [7:0] isp [0:LINES*LANES-1];
    logic [7:0] wsp [0:LINES*LANES-1];
    always @(posedge clk) begin
        for (int q = 0; q < LANES; q++) begin
            if (in_rd) a_vec[8*q +: 8] <= isp[in_line * LANES + q];
            if (w_rd) b_vec[8*q +: 8] <= wsp[w_line * LANES + q];
        end
    end

    string dir;
    int fi, fo, n, ci, outs, tail, tau;
    logic [127:0] cmd;
    int a, b, m, k;
    typedef enum logic [2:0] {S_READ, S_SET, S_START, S_RUN, S_DONE} st_t;
    st_t st = S_READ;
    initial begin
        if (!$value$plusargs("dir=%s", dir)) $fatal(1, "missing +dir=DIR");
        $readmemh({dir, "/isp.hex"}, isp);
        $readmemh({dir, "/wsp.hex"}, wsp);
        fi = $fopen({dir, "/cases.txt"}, "r");
        if (fi == 0) $fatal(1, "cannot open %s/cases.txt", dir);
        fo = $fopen({dir, "/out.txt"}, "w");
        if (fo == 0) $fatal(1, "cannot open %s/out.txt", dir);
        ci = 0;
    end

    /* verilator lint_off BLKSEQ */
    always @(posedge clk) begin
        rst <= 1'b0;
        clear <= 1'b0;
        vset <= 1'b0;
        start <= 1'b0;
        if (!rst) begin
            if (st == S_RUN || st == S_START) begin
                if (in_rd) $fwrite(fo, "r %0d %0d\n", tau, in_line);
                if (w_rd) $fwrite(fo, "w %0d %0d\n", tau, w_line);
                if (out_valid) begin
                    $fwrite(fo, "o %0d", tau);
                    for (int q = 0; q < LANES; q++) $fwrite(fo, " %0d", $signed(out_vec[32*q +: 32]));
                    $fwrite(fo, "\n");
                end
            end
            case (st)
                S_READ: begin
                    n = $fscanf(fi, "%h %d %d %d %d", cmd, a, b, m, k);
                    if (n != 5) begin
                        $fclose(fo);
                        st <= S_DONE;
                        $finish;
                    end else begin
                        clear <= 1'b1;
                        $fwrite(fo, "case %0d\n", ci);
                        ci <= ci + 1;
                        st <= S_SET;
                    end
                end
                S_SET: begin
                    vset <= 1'b1;
                    set_cmd <= cmd;
                    st <= S_START;
                end
                S_START: begin
                    start <= 1'b1;
                    c_aline <= 24'(a); c_bline <= 24'(b); c_m <= 16'(m); c_k <= 16'(k);
                    tau = 0;
                    outs = 0;
                    tail = 0;
                    st <= S_RUN;
                end
                S_RUN: begin
                    if (out_valid) outs = outs + 1;
                    if (outs >= m) tail = tail + 1;
                    if (tail > 4) st <= S_READ;
                    tau = tau + 1;
                    if (tau > 10000000) $fatal(1, "case %0d: no end after 10,000,000 cycles", ci - 1);
                end
                default: ;
            endcase
        end
    end
    /* verilator lint_on BLKSEQ */
endmodule
`default_nettype wire
