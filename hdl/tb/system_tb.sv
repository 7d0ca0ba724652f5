// Testbench of the whole accelerator (tinyaccel_accel; embedded in the hdl crate, built
// with `verilator --binary`). It models main memory and the system bus, and plays the
// host: it loads a memory image, programs the MMIO registers, starts the accelerator,
// waits for STATUS.done, reads every counter over MMIO and dumps the memory.
//
// Bus (see hdl/README.md): `bus_req` marks a burst request (bus_req_addr, bus_req_len,
// bus_we); the memory accepts beats from LAT cycles after the request. In a beat cycle
// (`bus_beat`), byte k of the bus is memory byte `bus_addr + k` for every strobed lane:
// reads are answered in the same cycle (`bus_rdata`), writes are committed at the clock
// edge. Violations (a beat before the latency has elapsed, outside the requested range,
// or without a request) are counted as protocol errors.
//
// Plusargs: +dir=DIR (mem_in.bin in: the image, raw bytes; result.txt and mem_out.hex
// out), +bytes=N (image size), +cmd_base=B, +cmd_count=C, +max_cycles=M, +wlo=L +whi=H
// (the bytes STOREs may write: a bus write outside is a protocol error, and only this
// window is dumped to mem_out.hex, one byte per line).
`default_nettype none
module system_tb #(
    parameter int BUS = 4,
    parameter int LAT = 10,
    parameter int MEM_BYTES = 16777216
);
    logic clk = 1'b0;
    logic rst = 1'b1;
    logic mmio_we = 1'b0;
    logic [7:0] mmio_addr = 8'h00;
    logic [31:0] mmio_wdata = 32'd0;
    logic [31:0] mmio_rdata;
    logic bus_req, bus_we, bus_beat;
    logic [31:0] bus_req_addr, bus_addr;
    logic [23:0] bus_req_len;
    logic [BUS-1:0] bus_strb;
    logic [8*BUS-1:0] bus_wdata;
    logic [8*BUS-1:0] bus_rdata;

    tinyaccel_accel dut (
        .clk(clk), .rst(rst),
        .mmio_we(mmio_we), .mmio_addr(mmio_addr), .mmio_wdata(mmio_wdata),
        .mmio_rdata(mmio_rdata),
        .bus_req(bus_req), .bus_we(bus_we), .bus_req_addr(bus_req_addr),
        .bus_req_len(bus_req_len), .bus_beat(bus_beat), .bus_addr(bus_addr),
        .bus_strb(bus_strb), .bus_wdata(bus_wdata), .bus_rdata(bus_rdata)
    );

    always #5 clk <= ~clk;

    logic [7:0] mem [0:MEM_BYTES-1];

    // Read data of a beat: combinational.
    always_comb begin
        for (int k = 0; k < BUS; k++) begin
            if (bus_addr + k < MEM_BYTES) bus_rdata[8*k +: 8] = mem[bus_addr + k];
            else bus_rdata[8*k +: 8] = 8'h00;
        end
    end

    // Protocol checker and write port.
    longint cycle = 0;
    longint req_cycle = 0;
    logic [31:0] req_lo = 32'd0;
    logic [31:0] req_hi = 32'd0;
    logic have_req = 1'b0;
    int proto_errors = 0;
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (bus_req) begin
            req_cycle <= cycle;
            req_lo <= bus_req_addr;
            req_hi <= bus_req_addr + {8'd0, bus_req_len};
            have_req <= 1'b1;
        end
        if (bus_beat) begin
            // Same-cycle request (LAT = 0) or an earlier one.
            if (bus_req) begin
                if (LAT != 0 || bus_addr < bus_req_addr
                    || bus_addr >= bus_req_addr + {8'd0, bus_req_len})
                    proto_errors <= proto_errors + 1;
            end else if (!have_req || cycle - req_cycle < longint'(LAT) || bus_addr < req_lo
                         || bus_addr >= req_hi) begin
                proto_errors <= proto_errors + 1;
            end
            if (bus_we) begin
                for (int k = 0; k < BUS; k++)
                    if (bus_strb[k]) begin
                        // Writes go only to the STORE window given by the host.
                        if (bus_addr + k < wlo || bus_addr + k >= whi)
                            proto_errors <= proto_errors + 1;
                        else if (bus_addr + k < MEM_BYTES) mem[bus_addr + k] <= bus_wdata[8*k +: 8];
                    end
            end
        end
    end

    // The host.
    string dir;
    int bytes;
    int cmd_base;
    int cmd_count;
    longint max_cycles;
    int fd;
    int fin;
    int got;
    int wlo;
    int whi;
    typedef enum logic [2:0] {H_RESET, H_BASE, H_COUNT, H_START, H_WAIT, H_READ, H_DONE} hstate_t;
    hstate_t hs = H_RESET;
    int hcnt = 0;
    longint run_start = 0;
    logic timeout = 1'b0;
    logic [31:0] status = 32'd0;
    logic [31:0] err_index = 32'd0;
    logic [31:0] fetch_cycles = 32'd0;
    logic [63:0] counters [0:14];
    int ridx = 0;

    initial begin
        if (!$value$plusargs("dir=%s", dir)) $fatal(1, "missing +dir=DIR");
        if (!$value$plusargs("bytes=%d", bytes)) $fatal(1, "missing +bytes=N");
        if (!$value$plusargs("cmd_base=%d", cmd_base)) $fatal(1, "missing +cmd_base=B");
        if (!$value$plusargs("cmd_count=%d", cmd_count)) $fatal(1, "missing +cmd_count=C");
        if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 64'd4294967296;
        if (bytes < 0 || bytes > MEM_BYTES) $fatal(1, "+bytes=%0d outside 0..%0d", bytes, MEM_BYTES);
        // Memory beyond the image starts at zero: Verilator's initial value of every
        // variable (no +verilator+rand+reset given).
        if (!$value$plusargs("wlo=%d", wlo)) wlo = 0;
        if (!$value$plusargs("whi=%d", whi)) whi = bytes;
        if (bytes > 0) begin
            fin = $fopen({dir, "/mem_in.bin"}, "rb");
            if (fin == 0) $fatal(1, "cannot open %s/mem_in.bin", dir);
            got = $fread(mem, fin, 0, bytes);
            if (got != bytes) $fatal(1, "%s/mem_in.bin: read %0d of %0d bytes", dir, got, bytes);
            $fclose(fin);
        end
    end

    always @(posedge clk) begin
        mmio_we <= 1'b0;
        case (hs)
            H_RESET: begin
                hcnt <= hcnt + 1;
                if (hcnt == 2) begin
                    rst <= 1'b0;
                    hs <= H_BASE;
                end
            end
            H_BASE: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h0C; mmio_wdata <= cmd_base;
                hs <= H_COUNT;
            end
            H_COUNT: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h10; mmio_wdata <= cmd_count;
                hs <= H_START;
            end
            H_START: begin
                mmio_we <= 1'b1; mmio_addr <= 8'h04; mmio_wdata <= 32'd1;
                run_start <= cycle;
                hs <= H_WAIT;
            end
            H_WAIT: begin
                mmio_addr <= 8'h08;
                if (mmio_addr == 8'h08 && !mmio_we && mmio_rdata[1]) begin
                    status <= mmio_rdata;
                    mmio_addr <= 8'h14;
                    hs <= H_READ;
                    ridx <= -2;
                end else if (cycle - run_start > max_cycles) begin
                    timeout <= 1'b1;
                    status <= mmio_rdata;
                    mmio_addr <= 8'h14;
                    hs <= H_READ;
                    ridx <= -2;
                end
            end
            H_READ: begin
                // One register per cycle: ERR_INDEX, FETCH_CYCLES, then counter lo/hi words.
                if (ridx == -2) begin
                    err_index <= mmio_rdata;
                    mmio_addr <= 8'h18;
                end else if (ridx == -1) begin
                    fetch_cycles <= mmio_rdata;
                    mmio_addr <= 8'h40;
                end else begin
                    if (ridx % 2 == 0) counters[ridx / 2][31:0] <= mmio_rdata;
                    else counters[ridx / 2][63:32] <= mmio_rdata;
                    mmio_addr <= 8'h40 + 8'(4 * (ridx + 1));
                end
                ridx <= ridx + 1;
                if (ridx == 2 * 15 - 1) hs <= H_DONE;
            end
            H_DONE: begin
                fd = $fopen({dir, "/result.txt"}, "w");
                if (fd == 0) $fatal(1, "cannot open %s/result.txt", dir);
                $fwrite(fd, "status %08h\n", status);
                $fwrite(fd, "err_index %0d\n", err_index);
                $fwrite(fd, "fetch_cycles %0d\n", fetch_cycles);
                $fwrite(fd, "exec_cycles %0d\n", counters[0]);
                $fwrite(fd, "proto_errors %0d\n", proto_errors);
                $fwrite(fd, "timeout %0d\n", timeout);
                for (int i = 0; i < 15; i++) $fwrite(fd, "counter %0d %0d\n", i, counters[i]);
                $fclose(fd);
                if (whi > wlo) $writememh({dir, "/mem_out.hex"}, mem, wlo, whi - 1);
                $finish;
            end
            default: hs <= H_DONE;
        endcase
    end
endmodule
`default_nettype wire
